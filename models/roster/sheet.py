"""Reading a roster file: .xlsx or .csv, a clerk's own headers, the rows below them."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import texts
from models.sheets import csv_value

# Canonical headers, in the order the template and the export write them.
HEADERS: dict[str, str] = texts.ROSTER_HEADERS
REQUIRED_FIELDS = ("name", "phone", "roles")


class RosterError(Exception):
    """A roster file that cannot be read at all (wrong type, unreadable encoding)."""


@dataclass(frozen=True)
class RosterProblem:
    """One problem of a sheet, located by row (as Excel numbers it) and column header."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = ""
        if self.row is not None:
            where += texts.PROBLEM_ROW.format(row=self.row)
        if self.column:
            where += texts.PROBLEM_COLUMN.format(column=self.column)
        return texts.PROBLEM_AT.format(where=where, message=self.message) if where else self.message


@dataclass
class SheetRow:
    """One data row: its number in the sheet and its cells by field name."""

    number: int
    values: dict[str, str]

    def get(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass
class Sheet:
    """The readable content of a roster file."""

    rows: list[SheetRow]
    columns: dict[str, str]  # field → the header as the clerk wrote it
    problems: list[RosterProblem]

    def column(self, name: str) -> str:
        return self.columns.get(name, HEADERS[name])


def fold(text: str) -> str:
    """Full-width forms to half-width (NFKC) and outer whitespace removed."""
    return unicodedata.normalize("NFKC", text).strip()


def _header_key(text: str) -> str:
    key = re.sub(r"\s+", "", fold(text)).replace("*", "").lower()
    return re.sub(texts.HEADER_REMARK, "", key)


_HEADER_LOOKUP = {
    _header_key(alias): name
    for name, words in texts.HEADER_WORDS.items()
    for alias in words.split()
}


def _cell_text(value: Any) -> str:
    """A cell as text; Excel stores typed phone numbers and group numbers as numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return fold(str(value))


def parse_table(table: Iterable[Sequence[Any]]) -> Sheet:
    """Find the header row (a title row above it is allowed) and read the rows below it."""
    lines = [(number, [_cell_text(v) for v in cells]) for number, cells in enumerate(table, 1)]
    header_at = None
    for index, (_number, cells) in enumerate(lines[:10]):
        names = {_HEADER_LOOKUP.get(_header_key(c)) for c in cells}
        if "name" in names and "phone" in names:
            header_at = index
            break
    if header_at is None:
        wanted = texts.LIST_JOIN.join(HEADERS[name] for name in REQUIRED_FIELDS)
        problem = RosterProblem(None, None, texts.NO_HEADER_ROW.format(wanted=wanted))
        return Sheet([], {}, [problem])
    header_number, header_cells = lines[header_at]
    columns: dict[str, str] = {}
    positions: dict[str, int] = {}
    problems: list[RosterProblem] = []
    for position, cell in enumerate(header_cells):
        name = _HEADER_LOOKUP.get(_header_key(cell))
        if name is None:
            continue  # 序号, 备注 and the like are the clerk's own columns
        if name in positions:
            message = texts.SAME_COLUMN_TWICE.format(other=columns[name])
            problems.append(RosterProblem(header_number, cell, message))
            continue
        columns[name], positions[name] = cell, position
    for name in REQUIRED_FIELDS:
        if name not in positions:
            message = texts.MISSING_COLUMN.format(header=HEADERS[name])
            problems.append(RosterProblem(header_number, None, message))
    rows = []
    for number, cells in lines[header_at + 1 :]:
        values = {name: (cells[pos] if pos < len(cells) else "") for name, pos in positions.items()}
        if any(values.values()):
            rows.append(SheetRow(number, values))
    return Sheet(rows, columns, problems)


def _decode_csv(data: bytes) -> str:
    # Excel on Windows saves "CSV" in the ANSI code page (GBK on Chinese systems); gb18030 is a
    # superset of GBK, so it reads those files and anything else a Chinese PC writes.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError(texts.CSV_ENCODING_UNKNOWN)


def read_sheet(path: Path) -> Sheet:
    """Read a roster from .xlsx or .csv."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = _decode_csv(path.read_bytes())
        # An exported sheet's "'=…" is "=…" (models/sheets.py): read back what was written.
        lines = csv.reader(io.StringIO(text, newline=""))
        return parse_table([csv_value(field) for field in line] for line in lines)
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # imported here: the server never reads sheets

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise RosterError(texts.XLSX_UNREADABLE.format(error=exc)) from exc
        try:
            first: Sheet | None = None
            for worksheet in workbook.worksheets:
                sheet = parse_table(worksheet.iter_rows(values_only=True))
                first = first or sheet
                if sheet.columns:
                    return sheet
            return first or parse_table([])
        finally:
            workbook.close()
    raise RosterError(texts.WRONG_FILE_TYPE.format(name=path.name))
