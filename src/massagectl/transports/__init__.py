"""Byte pipes to devices. A transport knows bytes, never their meaning."""

from .base import Transport
from .serial import SerialTransport
from .tcp import TcpTransport

__all__ = ["SerialTransport", "TcpTransport", "Transport"]
