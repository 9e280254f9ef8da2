"""Typed reads from a parsed TOML table, with errors that name the key and what is expected.

Every read remembers its key, so :meth:`Section.finish` can refuse keys nobody read: that is
how a typo such as ``ready_timout_s`` stops start-up instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.errors import ConfigError

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _kind(value: object) -> str:
    for python_type, name in reversed(_TYPE_NAMES.items()):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


class Section:
    """Typed reads from one TOML table; ``finish()`` refuses the keys nobody read."""

    def __init__(self, data: Mapping[str, Any], name: str) -> None:
        self._data = data
        self._name = name
        self._seen: set[str] = set()

    @property
    def name(self) -> str:
        return self._name or "the top level"

    def key(self, key: str) -> str:
        return f"{self._name}.{key}"

    def names(self) -> list[str]:
        return sorted(self._data)

    def _get(self, key: str, expected: type, what: str, *, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if required:
                raise ConfigError(f"{self.key(key)} is missing: expected {what}")
            return None
        value = self._data[key]
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(f"{self.key(key)}: expected {what}, got {_kind(value)}")
        return value

    def text(self, key: str, what: str = "a string") -> str:
        value: str = self._get(key, str, what, required=True)
        if not value.strip():
            raise ConfigError(f"{self.key(key)}: expected {what}, got an empty string")
        return value

    def optional_text(self, key: str, what: str = "a string") -> str | None:
        value: str | None = self._get(key, str, what, required=False)
        return value if value and value.strip() else None

    def number(self, key: str, default: float, what: str) -> float:
        value = self._get(key, float, what, required=False)
        return default if value is None else float(value)

    def boolean(self, key: str, default: bool, what: str = "true or false") -> bool:
        value: bool | None = self._get(key, bool, what, required=False)
        return default if value is None else value

    def optional_int(self, key: str, what: str) -> int | None:
        value: int | None = self._get(key, int, what, required=False)
        return value

    def optional_mapping(self, key: str, what: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._get(key, dict, what, required=False)
        return value

    def text_list(self, key: str, what: str, *, required: bool) -> tuple[str, ...]:
        value = self._get(key, list, what, required=required)
        if value is None:
            return ()
        if not all(isinstance(item, str) and item.strip() for item in value):
            raise ConfigError(f"{self.key(key)}: expected {what}")
        return tuple(value)

    def number_list(self, key: str, what: str) -> tuple[float, ...]:
        value = self._get(key, list, what, required=False)
        if value is None:
            return ()
        if not all(isinstance(i, int | float) and not isinstance(i, bool) for i in value):
            raise ConfigError(f"{self.key(key)}: expected {what}")
        return tuple(float(item) for item in value)

    def has(self, key: str) -> bool:
        return key in self._data

    def table(self, key: str) -> Section:
        value = self._get(key, dict, "a table", required=True)
        return Section(value, self.key(key) if self._name else key)

    def table_list(self, key: str) -> list[Section]:
        value = self._get(key, list, "a list of tables", required=False) or []
        sections = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(f"{self.key(key)}[{index}]: expected a table, got {_kind(item)}")
            sections.append(Section(item, f"{self.key(key)}[{index}]"))
        return sections

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            where = self._name or "the top level"
            raise ConfigError(f"{where}: unknown key '{unknown[0]}' (check the spelling)")


def seconds(section: Section, key: str, default: float, *, allow_zero: bool = False) -> float:
    value = section.number(key, default, "a number of seconds")
    low_ok = value >= 0 if allow_zero else value > 0
    if not low_ok or value > 24 * 3600:
        bound = "0 <=" if allow_zero else "0 <"
        raise ConfigError(f"{section.key(key)}: expected {bound} seconds <= 86400, got {value:g}")
    return value
