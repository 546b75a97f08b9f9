"""One exception hierarchy for everything a user can cause or meet.

Every error carries a message that says what was wrong and where (file, line, field, device), so
that the CLI can print it on one line and exit without a traceback.
"""

from __future__ import annotations


class MassagectlError(Exception):
    """Base of every error massagectl raises on purpose."""

    #: The CLI's exit code for this kind of error.
    exit_code: int = 1


class UsageError(MassagectlError):
    """Bad input from the person: a value, an address, a file. Nothing was changed."""

    exit_code = 2


class ProfileError(UsageError):
    """A device profile is missing, unknown or malformed."""


class ProgramError(UsageError):
    """A massage program is missing, unknown or malformed; the message names file, line, field."""


class AddressError(UsageError):
    """A device address does not parse."""


class ValueOutOfRange(UsageError):
    """A speed, heat or program value the device cannot take."""


class DeviceError(MassagectlError):
    """The device or the link to it failed."""

    exit_code = 3


class LinkError(DeviceError):
    """The link could not be opened (no such port, connection refused, ...)."""


class LinkLost(DeviceError):
    """The link went away, or the device stopped answering."""


class DeviceRefused(DeviceError):
    """The device answered a command with an error code."""


class ProtocolError(DeviceError):
    """Bytes that break the protocol: a bad frame, a bad CRC, an answer that makes no sense."""


class TaskFailed(MassagectlError):
    """A task that should run for as long as massagectl does ended unexpectedly; the devices
    it served have been stopped."""


class SafetyHold(MassagectlError):
    """A safety limit holds the device at rest (a session past its longest, not yet rested):
    nothing was started, and the message says what ends the hold."""

    exit_code = 4
