"""The one sheet writer: its .csv neutralising is undone exactly on reading."""

from __future__ import annotations

import pytest

from models.sheets import csv_text, csv_value, looks_like_formula

VALUES = [
    "张三",
    "",
    "=1+1",
    "+86 138",
    "-",
    "@sun",
    "\t=cmd",
    "\r=cmd",
    "＝SUM(A1)",
    "＋1",
    "－",
    "＠人",
    "'",
    "'=1",
    "''=1",
    "'张三",
    "a=1",
]


@pytest.mark.parametrize("value", VALUES)
def test_csv_text_is_never_a_formula_and_reads_back_as_written(value: str) -> None:
    field = csv_text(value)
    assert not looks_like_formula(field)
    assert csv_value(field) == value
    assert (field == value) == (not looks_like_formula(value) and not value.startswith("'"))
