"""Reading programs from YAML, with errors that point at the file, the line and the field.

PyYAML's ``safe_load`` forgets where each value came from, so the loader composes the YAML into
nodes and builds the data itself, keeping the line of every key and list item. A pydantic error
``loc`` is then mapped back onto the data to find the line and to name the field the way the
person wrote it (``steps[2].speed``), not the way the model nests it.

Two deliberate differences from ``yaml.safe_load``: mapping keys are always text (so a pulse's
``on:`` and ``off:`` stay keys rather than turning into booleans), and a key given twice is an
error rather than silently keeping the last value. Values still follow YAML 1.1, so an unquoted
``off`` is ``False``, which the model reads as heat off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..durations import format_duration
from ..errors import ProgramError
from ..resources import data_dir
from ..safe_yaml import BoundedLoader, compose, read_text
from .model import (
    HEAT_OFF,
    LocatedError,
    Program,
    Pulse,
    Repeat,
    Step,
    StepItem,
    Use,
    Wave,
)

__all__ = [
    "all_programs",
    "dump_program",
    "get_program",
    "load_program_file",
    "load_program_text",
]

_Loc = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

#: ``loc`` entries pydantic adds for its own bookkeeping: the tags of the step-item and pattern
#: unions, and validator wrappers such as ``function-after[_consistent(), Step]``.
_UNION_TAGS = frozenset({"step", "repeat", "use", "steady", "pulse", "wave"})
_WRAPPER = re.compile(r"^[a-z][a-z-]*\[.*\]$", re.DOTALL)


def load_program_text(text: str, source: str) -> Program:
    """Parse and validate a program; ``source`` names it in error messages (usually a path)."""
    return _load(text, source, expected_name=None)


def load_program_file(path: Path) -> Program:
    """Load and validate one program file; its ``name`` must be the file name without suffix."""
    text = read_text(path, ProgramError)
    assert text is not None  # not missing_ok: a missing file is an error
    return _load(text, str(path), expected_name=path.stem)


@cache
def _shipped() -> dict[str, Program]:
    folder = data_dir("programs")
    programs = [load_program_file(p) for p in folder.glob("*.yaml")]
    return {p.name: p for p in sorted(programs, key=lambda p: p.name)}


def all_programs() -> list[Program]:
    """Every shipped preset, sorted by name (loaded once)."""
    return list(_shipped().values())


def get_program(name_or_path: str) -> Program:
    """A program file by path (``*.yaml``, ``*.yml``, anything with a ``/`` or anything that
    exists), else a preset by name."""
    # Whatever exists is read as a file, so that a FIFO or a device is refused as not a regular
    # file (without blocking) rather than looked up as a preset's name.
    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path or os.path.lexists(path):
        return load_program_file(path)
    try:
        return _shipped()[name_or_path]
    except KeyError:
        known = ", ".join(_shipped()) or "(none)"
        raise ProgramError(
            f"unknown program {name_or_path!r}; the presets are: {known} "
            "(or give the path of a .yaml file)"
        ) from None


# --- parsing -------------------------------------------------------------------------------


def _load(text: str, source: str, expected_name: str | None) -> Program:
    data, lines = _compose(text, source)
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        raise ProgramError(_describe(exc.errors()[0], data, lines, source)) from None
    if expected_name is not None and program.name != expected_name:
        raise ProgramError(
            f"{source}:{lines[('name',)]}: name: {program.name!r} must be the file name "
            f"without its suffix, {expected_name!r}"
        )
    return program


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _compose(text: str, source: str) -> tuple[dict[str, Any], dict[_Loc, int]]:
    """The program's data and the 1-based line of each key and list item, by path."""
    # Bounded: no anchors or aliases, limited size and depth (see massagectl.safe_yaml).
    loader, root = compose(text, source, ProgramError)
    try:
        if root is None:
            raise ProgramError(f"{source}:1: the file is empty; a program is a mapping of fields")
        if not isinstance(root, MappingNode):
            kind = "list" if isinstance(root, SequenceNode) else "single value"
            raise ProgramError(
                f"{source}:{root.start_mark.line + 1}: a program is a mapping of fields "
                f"(name, title, steps, ...), not a {kind}"
            )
        walker = _Walker(loader, source)
        walker.lines[()] = root.start_mark.line + 1
        data = walker.walk(root, ())
        assert isinstance(data, dict)
        return data, walker.lines
    finally:
        loader.dispose()


class _Walker:
    """Builds Python data from composed nodes, recording the line of every key and item."""

    def __init__(self, loader: BoundedLoader, source: str):
        self.loader = loader
        self.source = source
        self.lines: dict[_Loc, int] = {}

    def fail(self, node: Node, path: _Loc, message: str) -> NoReturn:
        field = f" {_render(path)}:" if path else ""
        raise ProgramError(f"{self.source}:{node.start_mark.line + 1}:{field} {message}")

    def walk(self, node: Node, path: _Loc) -> Any:
        if isinstance(node, ScalarNode):
            try:
                return self.loader.construct_object(node)
            except yaml.MarkedYAMLError as exc:
                self.fail(node, path, _one_line(exc.problem or str(exc)))
            except Exception:  # PyYAML's own constructors choke on e.g. ``!!int abc``
                self.fail(node, path, f"{node.value!r} cannot be read as {node.tag}")
        # No alias can reach here (the composer refuses them), so no node is walked twice and
        # the walk is as deep as the file's nesting, which the composer bounds too.
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                self.fail(node, path, f"the YAML tag {node.tag} is not supported here")
            items = []
            for index, child in enumerate(node.value):
                self.lines[(*path, index)] = child.start_mark.line + 1
                items.append(self.walk(child, (*path, index)))
            return items
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                self.fail(node, path, f"the YAML tag {node.tag} is not supported here")
            return self.mapping(node, path)
        self.fail(node, path, "unexpected YAML node")

    def mapping(self, node: MappingNode, path: _Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append((key_node, value_node))
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "a key must be a plain word, not a list or mapping")
            # The key as written: YAML 1.1 would make ``on:``/``off:`` booleans.
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in out:
                first = self.lines[(*path, key)]
                self.fail(key_node, (*path, key), f"duplicate key (first given on line {first})")
            self.lines[(*path, key)] = line
            out[key] = self.walk(value_node, (*path, key))
        for key_node, value_node in merges:
            self.merge(key_node, value_node, path, out)
        return out

    def merge(self, key_node: Node, value_node: Node, path: _Loc, out: dict[str, Any]) -> None:
        """``<<: {...}`` or ``<<: [{...}, {...}]``: keys given here win, then earlier sources."""
        sources: Iterable[Node] = (
            value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        )
        for src in sources:
            if not isinstance(src, MappingNode):
                self.fail(key_node, path, "<< merges a mapping or a list of mappings")
            # A separate walker, so that the merged mapping's lines do not overwrite these.
            other = _Walker(self.loader, self.source)
            merged = other.walk(src, path)
            for key, value in merged.items():
                if key in out:
                    continue
                out[key] = value
                for sub, line in other.lines.items():
                    if sub[: len(path) + 1] == (*path, key):
                        self.lines[sub] = line


# --- error messages ------------------------------------------------------------------------


def _describe(err: ErrorDetails, data: Any, lines: dict[_Loc, int], source: str) -> str:
    """One line: ``source:line: field: message``."""
    loc: _Loc = tuple(err["loc"])
    message = err["msg"]
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, LocatedError):
        loc, message = cause.loc, str(cause)
    elif err["type"] == "extra_forbidden":
        message = "unknown field"
    message = message.removeprefix("Value error, ")
    shown, found = _resolve(loc, data)
    line = next(lines[found[:n]] for n in range(len(found), -1, -1) if found[:n] in lines)
    if shown == found and err["type"] not in ("extra_forbidden", "missing"):
        value = _at(data, found)
        if not isinstance(value, dict | list) and str(value) not in message:
            written = repr(value)
            written = written if len(written) <= 40 else f"{written[:37]}..."
            message = f"{message} (got {written})"
    field = f" {_render(shown)}:" if shown else ""
    return _one_line(f"{source}:{line}:{field} {message}")


_ABSENT: Any = object()


def _child(data: Any, entry: str | int) -> Any:
    if isinstance(data, dict) and isinstance(entry, str) and entry in data:
        return data[entry]
    if isinstance(data, list) and isinstance(entry, int) and 0 <= entry < len(data):
        return data[entry]
    return _ABSENT


def _at(data: Any, path: _Loc) -> Any:
    for entry in path:
        data = _child(data, entry)
    return data


def _droppable(entry: str | int) -> bool:
    return isinstance(entry, str) and (entry in _UNION_TAGS or bool(_WRAPPER.match(entry)))


def _resolve(loc: _Loc, data: Any) -> tuple[_Loc, _Loc]:
    """Map a pydantic ``loc`` onto the data: (the path to show, the part of it found in data).

    A union tag is usually pydantic's own (``steps.0.step.speed``), but can also be a key the
    person wrote (``pattern: {wave: {...}}``). Both readings are tried, and the one that finds
    more of the path in the data wins; on a tie the tag is taken to be pydantic's.
    """
    if not loc:
        return (), ()
    head, rest = loc[0], loc[1:]
    child = _child(data, head)
    options: list[tuple[int, int, _Loc, _Loc]] = []
    if _droppable(head):
        shown, found = _resolve(rest, data)
        options.append((len(found), 1, shown, found))
    if child is not _ABSENT:
        shown, found = _resolve(rest, child)
        options.append((len(found) + 1, 0, (head, *shown), (head, *found)))
    elif not _droppable(head):
        # Not in the data: a missing field of a mapping, or a field the model builds itself
        # from a plain value (``speed: 150%`` becomes ``speed.fraction``), which is not shown.
        shown, _ = _resolve(rest, _ABSENT)
        written = isinstance(data, dict | list) or data is _ABSENT
        return ((head, *shown) if written else shown), ()
    _, _, shown, found = max(options, key=lambda o: (o[0], o[1]))
    return shown, found


def _render(path: _Loc) -> str:
    """``steps[2].steps[0].speed``."""
    out = ""
    for entry in path:
        out += f"[{entry}]" if isinstance(entry, int) else f".{entry}" if out else entry
    return out


# --- writing -------------------------------------------------------------------------------


def dump_program(program: Program) -> str:
    """YAML text for ``program`` that ``load_program_text`` reads back as an equal program.

    Percentages get as many decimals as it takes to read back the same fraction (a fraction made
    in Python that no ``N%`` reads back exactly comes back within a rounding step); durations of
    whole seconds are written ``5m``/``1m30s``, others as a number of seconds.
    """
    data: dict[str, Any] = {"name": program.name, "title": program.title}
    if program.summary:
        data["summary"] = program.summary
    if program.based_on:
        data["based_on"] = program.based_on
    if program.needs != ["speed"]:
        data["needs"] = list(program.needs)
    if program.cautions:
        data["cautions"] = list(program.cautions)
    data["steps"] = [_item_data(item) for item in program.steps]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if any(c in text for c in "\x85\u2028\u2029"):
        # PyYAML writes these line breaks raw, then reads them as breaks; escape all non-ASCII.
        text = yaml.safe_dump(data, sort_keys=False)
    return text


def _item_data(item: StepItem) -> dict[str, Any]:
    if isinstance(item, Use):
        return {"use": item.use}
    if isinstance(item, Repeat):
        return {"repeat": item.repeat, "steps": [_item_data(i) for i in item.steps]}
    return _step_data(item)


def _step_data(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"name": step.name, "duration": _duration_data(step.duration)}
    if step.speed is not None:
        if step.speed.level is not None:
            out["speed"] = {"level": step.speed.level}
        else:
            out["speed"] = _percent_text(step.speed.fraction or 0.0)
    if step.heat != HEAT_OFF:
        out["heat"] = step.heat.name if step.heat.name is not None else {"level": step.heat.level}
    if step.ramp:
        out["ramp"] = _duration_data(step.ramp)
    if isinstance(step.pattern, Pulse):
        on, off = _duration_data(step.pattern.on), _duration_data(step.pattern.off)
        out["pattern"] = {"pulse": {"on": on, "off": off}}
    elif isinstance(step.pattern, Wave):
        out["pattern"] = {
            "wave": {
                "period": _duration_data(step.pattern.period),
                "low": _percent_text(step.pattern.low),
                "high": _percent_text(step.pattern.high),
            }
        }
    if step.cue:
        out["cue"] = step.cue
    if step.hold:
        out["hold"] = True
    if step.max_duration is not None:
        out["max_duration"] = _duration_data(step.max_duration)
    if step.device_program is not None:
        out["device_program"] = step.device_program
    return out


def _duration_data(seconds: float) -> str | float:
    if seconds.is_integer() and seconds < 10**6:
        return format_duration(seconds)
    return seconds


def _percent_text(fraction: float) -> str:
    # The model reads ``N%`` as float(N) / 100; find the shortest N that gives ``fraction`` back.
    for digits in range(18):
        text = f"{fraction * 100:.{digits}f}"
        if float(text) / 100 == fraction:
            return f"{text}%"
    # Not every fraction is some float(N) / 100; then the nearest is as good as it gets.
    return f"{fraction * 100:.16f}".rstrip("0").rstrip(".") + "%"
