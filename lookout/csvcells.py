"""CSV cells a spreadsheet will show as text, never run as a formula."""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralize spreadsheet formulas: text starting with = + - @ TAB or CR gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unquote_cell(value: str) -> str:
    """A cell as written before `safe_cell` quoted it (reading Lookout's own CSV back)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value
