"""The one way placematch reads YAML (tender scenarios, panel policies): bounded before
anything is built.

YAML lets a file name a value once (an anchor, ``&x``) and repeat it anywhere (an alias,
``*x``). Nested, a few hundred bytes of aliases stand for billions of values (the "billion
laughs"), and anything that walks the result (line numbers, validation) walks every copy. No
file placematch reads needs them, so an anchor or alias is refused the moment the reader meets
it, as is a file longer than ``MAX_YAML_CHARS``, with more than ``MAX_YAML_NODES`` values or
nested deeper than ``MAX_YAML_DEPTH`` (the reader is recursive), before its values are made.
Only plain YAML types are made (PyYAML's safe loader): never Python objects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

from providers.limits import (
    MAX_YAML_CHARS,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    control_character,
)


class YamlRefused(ValueError):
    """A YAML file that was not read: too large, not YAML, or using what placematch refuses.
    ``line`` is 1-based, None for the file as a whole; ``reason`` is for council staff."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        super().__init__(f"{file}{f' line {line}' if line else ''}: {reason}")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors and aliases and counting values and depth as it
    composes, so nothing past a limit is ever built."""

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self._file, self._nodes, self._depth = file, 0, 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, AliasEvent) or (
            isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.anchor is not None
        ):
            what = f"alias *{event.anchor}" if isinstance(event, AliasEvent) else f"anchor &{event.anchor}"
            raise YamlRefused(self._file, line, f"uses the YAML {what}: placematch does not accept anchors or "
                                                "aliases (&name, *name); write each value out in full")
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise YamlRefused(self._file, line, f"has more than {MAX_YAML_NODES:,} keys, values and list items "
                                                "(the limit for one file)")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YamlRefused(self._file, line, f"is nested more than {MAX_YAML_DEPTH} levels deep "
                                                    "(the limit for one file)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_with_nodes(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """The values of one YAML document and its composed nodes (for line numbers), or
    YamlRefused. An empty document gives (None, None)."""
    if len(text) > MAX_YAML_CHARS:
        raise YamlRefused(file, None, f"is {len(text):,} characters long; the limit for one file is "
                                      f"{MAX_YAML_CHARS:,}")
    if (bad := control_character(text)) is not None:
        at, which = bad
        raise YamlRefused(file, text.count("\n", 0, at) + 1, f"contains the control character {which}, which a "
                                                              "text editor does not show; "
                                      "remove it (or save the file again as plain UTF-8 text)")
    loader = _BoundedLoader(text, file)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise YamlRefused(file, mark.line + 1 if mark else None, f"not YAML: {reason}") from None
    finally:
        loader.dispose()
    return data, node


def load(text: str, file: str) -> Any:
    """The values of one YAML document (see ``load_with_nodes``)."""
    return load_with_nodes(text, file)[0]


def read_text(path: str | os.PathLike, file: str | None = None) -> str:
    """A YAML file's text, refused (YamlRefused) if it is larger than the limit, before it is
    read, or is not UTF-8. OSError (a missing file) propagates for the caller to word."""
    path = Path(path)
    file = file or path.name
    # UTF-8 takes at least one byte a character: a file over 4 bytes a character is too long
    # whatever it holds, and is not read; a file under it is read, then measured in characters.
    size = path.stat().st_size
    if size > 4 * MAX_YAML_CHARS:
        raise YamlRefused(file, None, f"is {size / 1024:,.0f} KB; the limit for one file is "
                                      f"{MAX_YAML_CHARS:,} characters")
    with path.open("rb") as fh:
        data = fh.read(4 * MAX_YAML_CHARS + 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlRefused(file, None, f"is not UTF-8 text (byte 0x{data[exc.start]:02X} at position {exc.start}); "
                                      "save it as UTF-8") from None


def read(path: str | os.PathLike, file: str | None = None) -> Any:
    """The values of a YAML file, bounded as ``load`` and ``read_text`` say."""
    path = Path(path)
    file = file or path.name
    return load(read_text(path, file), file)


# --- where a problem is ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem in a YAML file, at its line (None: the file as a whole) and key path."""

    file: str
    line: int | None
    where: str
    reason: str

    def __str__(self) -> str:
        at = f" line {self.line}" if self.line else ""
        return f"{self.file}{at}{', ' + self.where if self.where else ''}: {self.reason}"


def lines_of(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """The line (1-based) of every key and item in a composed YAML document, by path."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            out[child] = key.start_mark.line + 1
            lines_of(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for k, item in enumerate(node.value):
            out[path + (k,)] = item.start_mark.line + 1
            lines_of(item, path + (k,), out)
    return out


def where(path: tuple) -> str:
    """A key path as people count it: ``lots > 2 > tiers`` (items from 1)."""
    return " > ".join(str(p + 1) if isinstance(p, int) else str(p) for p in path)


def line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of ``path``, or of the nearest key above it that has one."""
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)
