"""The one way massagectl reads a YAML file: bounded, so that no file can exhaust the host.

Programs, profiles and ``safety.yaml`` are written by people, but a file can also be hostile or
simply wrong: a "billion laughs" of nested aliases, thousands of nested brackets, a 50 MB file,
``/dev/zero``, a FIFO that nobody writes to. Every loader reads through here, which

* opens the file without blocking (``O_NONBLOCK``, so a FIFO does not wait for a writer) and
  refuses anything that is not a regular file once opened (a link is followed, but only to a
  regular file: a link to ``/dev/zero`` is a character device by then);
* reads at most :data:`MAX_FILE_BYTES` (plus one byte, to tell a file that is too big);
* refuses anchors and aliases (``&name``, ``*name``): nothing massagectl reads needs them, and
  they are how a few hundred bytes expand to gigabytes;
* refuses nesting deeper than :data:`MAX_DEPTH` (PyYAML composes recursively, and Python's
  recursion limit would otherwise end in a traceback).

Each failure is the caller's :class:`~massagectl.errors.UsageError` subclass with one line
``FILE[:LINE]: message``. The parsing itself is PyYAML's (its messages are the ones people see
and the docs quote); only the composing of nodes is ours.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, Event, NodeEvent
from yaml.nodes import Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from .errors import UsageError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "BoundedLoader",
    "check_text_size",
    "compose",
    "load_data",
    "read_text",
]

#: The largest file (or inline text) read, in bytes: 256 KiB. The shipped presets are 2 to 5 KB
#: and a long program of a few hundred steps, each with a cue, about 35 KB, so this leaves room
#: for seven times that; it also bounds how long the pure-Python parser can take (about a second
#: for the worst file of this size) and how much memory the parsed nodes take (tens of MB).
MAX_FILE_BYTES: Final = 256 * 1024

#: The deepest nesting of mappings and lists. A program's step with a wave pattern is five
#: levels deep and each ``repeat`` block adds two, so this allows some thirty nested repeats.
MAX_DEPTH: Final = 64

_KIND = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


_TOO_BIG: Final = f"larger than {MAX_FILE_BYTES // 1024} KiB, the most massagectl reads"


def read_text(path: Path, error: type[UsageError], *, missing_ok: bool = False) -> str | None:
    """The UTF-8 text of the regular file at ``path``, at most :data:`MAX_FILE_BYTES`.

    None when the file does not exist and ``missing_ok``; every other failure is ``error``.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if missing_ok and exc.errno == errno.ENOENT:
            return None
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        # fstat on what was opened, not stat on the name: the name may have changed since.
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KIND.get(stat.S_IFMT(mode), "not a regular file")
            raise error(f"{path}: is {kind}, not a regular file; give the path of a YAML file")
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1  # one byte more than allowed tells a file that is too big
        while left > 0:
            chunk = os.read(fd, min(left, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:
        raise error(f"{path}: {_TOO_BIG}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason})") from None


def check_text_size(text: str, source: str, error: type[UsageError]) -> None:
    """Refuse text (a program sent inline) longer than a file may be."""
    # Characters first: cheap, and no UTF-8 encoding is shorter than its character count.
    too_big = len(text) > MAX_FILE_BYTES
    if too_big or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise error(f"{source}: {_TOO_BIG}")


class _Refused(Exception):
    """YAML that parses but that massagectl will not compose (an alias, too deep)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


class BoundedLoader(Reader, Scanner, Parser, Composer, SafeConstructor, Resolver):
    """PyYAML's safe loader, whose composer refuses anchors and aliases and nesting deeper than
    :data:`MAX_DEPTH`: use it through :func:`compose`."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        """Compose one node, as PyYAML does, unless it is anchored, an alias, or too deep."""
        # The type stubs leave the parser's methods unannotated; it returns an Event.
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise _Refused(
                line, "YAML anchors and aliases (&name, *name) are not allowed; write the value out"
            )
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} lists or mappings deep")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def compose(text: str, source: str, error: type[UsageError]) -> tuple[BoundedLoader, Node | None]:
    """The single document in ``text`` as nodes, and the loader that can construct their values.

    ``source`` names the text in errors (``FILE:LINE: ...``). The caller disposes of the loader.
    """
    check_text_size(text, source, error)
    loader: BoundedLoader | None = None
    try:
        # Inside the try: the reader checks every character as it is made.
        loader = BoundedLoader(text)
        return loader, loader.get_single_node()
    except BaseException as exc:
        if loader is not None:
            loader.dispose()
        raise _as_error(exc, text, source, error) from None


def _as_error(exc: BaseException, text: str, source: str, error: type[UsageError]) -> BaseException:
    """The one-line error for what composing raised (anything else is raised as it was)."""
    if isinstance(exc, _Refused):
        return error(f"{source}:{exc.line}: {exc.problem}")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = _one_line(exc.problem or str(exc))
        context = f" ({_one_line(exc.context)})" if exc.context else ""
        return error(f"{source}:{line}: not valid YAML: {problem}{context}")
    if isinstance(exc, yaml.YAMLError):
        # A ReaderError (a character YAML does not allow) knows its offset, not its line.
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        return error(f"{source}:{line}: not valid YAML: {_one_line(str(exc))}")
    if isinstance(exc, RecursionError):
        # Not expected within MAX_DEPTH; a refusal rather than a traceback if it ever is.
        return error(f"{source}: nested too deeply to read")
    return exc


def load_data(text: str, source: str, error: type[UsageError]) -> Any:
    """What ``yaml.safe_load`` would give for ``text``, within the bounds (None: empty)."""
    loader, node = compose(text, source, error)
    try:
        if node is None:
            return None
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise error(f"{source}:{line}: {_one_line(exc.problem or str(exc))}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. ``!!int abc``
        raise error(f"{source}: a value cannot be read ({_one_line(str(exc))})") from None
    finally:
        loader.dispose()
