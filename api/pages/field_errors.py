"""Errors for the form macros (form_macros.html) when one field may have several: a tender
scenario file's problems all belong to its text box, and a forecast what-if box may have a
problem on each of its lines."""

from __future__ import annotations


class FieldErrors:
    """{field id: message} as the macros read it (``items``, ``get``, ``[]``), keeping every
    message given for a field: the summary lists each, beside the field they are joined."""

    def __init__(self, pairs=()) -> None:
        self._pairs = [(field, message) for field, message in pairs]

    def add(self, field: str, message: str) -> None:
        self._pairs.append((field, message))

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def get(self, field: str, default=None):
        messages = [m for f, m in self._pairs if f == field]
        if not messages:
            return default
        return messages[0] if len(messages) == 1 else " ".join(m if m.endswith(".") else f"{m}." for m in messages)

    def __getitem__(self, field: str) -> str:
        found = self.get(field)
        if found is None:
            raise KeyError(field)
        return found

    def __contains__(self, field: str) -> bool:
        return any(f == field for f, _ in self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)
