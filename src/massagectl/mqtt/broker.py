"""Where the broker is and how to log in: ``mqtt://[USER[:PASS]@]HOST[:PORT]`` (``mqtts://`` for
TLS), turned into an aiomqtt client."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..errors import UsageError

if TYPE_CHECKING:
    import asyncio

    import aiomqtt

    from ..address import DeviceAddress

#: Read when the URL names a user but no password, so that it stays out of `ps` and shell history.
PASSWORD_ENV = "MASSAGECTL_MQTT_PASSWORD"
#: CA files (separated like PATH) for ``mqtt://`` device addresses, which have no options.
CA_ENV = "MASSAGECTL_MQTT_CA"


class _PahoOnlyWhenDebugging(logging.Filter):
    """paho's own log lines ("failed to receive on socket: ...") say again, in its words, what
    the one-line error or warning of massagectl says: they show only with ``-vv``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName != "_easy_log":  # aiomqtt's own warnings stay
            return True
        return logging.getLogger().isEnabledFor(logging.DEBUG)


#: The logger aiomqtt (and paho through it) writes to.
CLIENT_LOG = logging.getLogger("massagectl.mqtt.client")
CLIENT_LOG.addFilter(_PahoOnlyWhenDebugging())


@dataclass(frozen=True, slots=True)
class Broker:
    """A broker and the credentials to use on it."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    #: CA certificates to trust (PEM files); none: the system's.
    ca_files: tuple[Path, ...] = ()
    #: Client certificate and key for brokers that ask for one.
    certfile: Path | None = None
    keyfile: Path | None = None

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"

    def client(
        self,
        identifier: str,
        *,
        will: aiomqtt.Will | None = None,
        keepalive: int = 10,
        timeout: float = 5.0,
        protocol: aiomqtt.ProtocolVersion | None = None,
        incoming: type[asyncio.Queue[aiomqtt.Message]] | None = None,
    ) -> aiomqtt.Client:
        """An aiomqtt client for this broker (not connected yet: use it with ``async with``);
        ``incoming``: the queue class for messages received and not read yet."""
        import aiomqtt

        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=identifier,
            will=will,
            keepalive=keepalive,
            timeout=timeout,
            tls_context=self.ssl_context() if self.tls else None,
            protocol=protocol,
            logger=CLIENT_LOG,
            queue_type=incoming,
            # Commands are small and each one matters now: no Nagle delay behind an
            # acknowledgement the other side holds back.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context: the CA files given (or the system's), hostname checked."""
        context = ssl.create_default_context()
        for ca in self.ca_files:
            try:
                context.load_verify_locations(cafile=str(ca))
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"--tls-ca {ca}: cannot use it: {exc}") from None
        if self.certfile is not None:
            try:
                context.load_cert_chain(str(self.certfile), str(self.keyfile or self.certfile))
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"--tls-cert {self.certfile}: cannot use it: {exc}") from None
        return context


def parse_broker(
    url: str,
    *,
    ca_files: tuple[Path, ...] | list[Path] = (),
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> Broker:
    """Parse ``mqtt://[USER[:PASS]@]HOST[:PORT]`` or ``mqtts://…``; a CA file implies TLS."""
    text = url.strip()
    if "://" not in text:
        text = f"mqtt://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"broker {url!r}: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise UsageError(f"broker {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    if not parts.hostname:
        raise UsageError(f"broker {url!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"broker {url!r}: expected nothing after HOST[:PORT]")
    tls = parts.scheme == "mqtts" or bool(ca_files) or certfile is not None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and password is None:
        password = os.environ.get(PASSWORD_ENV)
    return Broker(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        username=username,
        password=password,
        tls=tls,
        ca_files=tuple(ca_files),
        certfile=certfile,
        keyfile=keyfile,
    )


def broker_error(broker: Broker, exc: BaseException) -> str:
    """One line saying why the broker could not be reached or dropped us."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "not authori" in lowered or "bad user name or password" in lowered:
        return f"{broker}: the broker refused the login ({text})"
    if "certificate" in lowered or "ssl" in lowered:
        return f"{broker}: TLS failed ({text})"
    if "timed out" in lowered and not broker.tls:
        # What a plain connection to a TLS-only port looks like: the broker drops it unanswered.
        return (
            f"{broker}: no answer from the broker ({text}); if it speaks TLS on this port, use "
            "mqtts:// or --tls-ca"
        )
    return f"{broker}: {text}"


def broker_for_address(address: DeviceAddress) -> Broker:
    """The broker of an ``mqtt://`` device address (TLS and CA files from the environment)."""
    cas = [Path(p) for p in os.environ.get(CA_ENV, "").split(os.pathsep) if p]
    scheme = "mqtts" if address.tls else "mqtt"
    return parse_broker(f"{scheme}://{address.target}", ca_files=cas)
