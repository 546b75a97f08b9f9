"""Tests of the transports against real lines (pseudo-terminals, sockets)."""
