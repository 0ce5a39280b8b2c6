"""Every sheet the bot writes (.xlsx, .csv): a cell made of people's text is text, not a formula.

A 邻长's description, a cadre's 办结 result or a name in the roster can begin with "=", and a
spreadsheet opening the file would run it (`=HYPERLINK(...)`, `=cmd|...`): OWASP's CSV-injection
rule. So, in one place for every export (the 台账 of `report --xlsx`, `roster export`, `roster
template`):

- in .xlsx every string is stored as a string cell (never a formula, never an error value such as
  "#N/A"), its text unchanged; one that begins with = + - @, a tab or a carriage return, or the
  full-width forms of the first four that Chinese input methods type, also carries Excel's quote
  prefix, so editing the cell keeps it text;
- in .csv, which has no types, such a value gets a leading apostrophe ("'=…"), as OWASP advises;
  `csv_value` undoes exactly that on reading, so an export imports back unchanged.

Numbers, dates and empty cells the code itself computes are written as they are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # openpyxl is imported when a workbook is made: the server never writes sheets
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# = + - @ tab CR, and the full-width equals, plus, hyphen-minus and commercial at.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
CSV_QUOTE = "'"
# Characters an .xlsx file cannot hold (C0 controls but tab, newline and carriage return).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read this text as a formula (OWASP's list, full-width too)."""
    return bool(text) and text[0] in FORMULA_STARTS


def csv_text(value: Any) -> str:
    """A value as a .csv field: text that would start a formula gets a leading apostrophe.

    A value that itself begins with an apostrophe gets one too, so `csv_value` can always tell
    the added apostrophe from a typed one.
    """
    if value is None:
        return ""
    text = str(value)
    if looks_like_formula(text) or text.startswith(CSV_QUOTE):
        return CSV_QUOTE + text
    return text


def csv_value(field: str) -> str:
    """A .csv field as typed before `csv_text` neutralised it (the inverse of `csv_text`)."""
    rest = field[1:]
    if field.startswith(CSV_QUOTE) and (looks_like_formula(rest) or rest.startswith(CSV_QUOTE)):
        return rest
    return field


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A .csv file Excel on Windows opens without garbling Chinese (UTF-8 with a BOM)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_text(title) for title in header])
        for row in rows:
            writer.writerow([csv_text(value) for value in row])


@dataclass(frozen=True)
class Figure:
    """A number with its display format (a rate shown as a percentage)."""

    value: float | int | None
    number_format: str


class XlsxBook:
    """A streamed (write-only) workbook whose sheets write every string as a text cell."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self.workbook: Workbook = Workbook(write_only=True)

    def sheet(
        self, title: str, widths: Sequence[float] = (), freeze: str | None = None
    ) -> XlsxSheet:
        """A new sheet with column widths (from column A) and frozen panes; rows are appended."""
        from openpyxl.utils import get_column_letter

        worksheet: WriteOnlyWorksheet = self.workbook.create_sheet(title)
        for index, width in enumerate(widths, 1):
            worksheet.column_dimensions[get_column_letter(index)].width = width
        if freeze:
            worksheet.freeze_panes = freeze
        return XlsxSheet(worksheet)

    def save(self, path: Path) -> None:
        """Write the file (its folder is made when missing)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.workbook.save(path)


class XlsxSheet:
    """One sheet of an XlsxBook: rows go in order, each value through `cell`."""

    def __init__(self, worksheet: WriteOnlyWorksheet) -> None:
        self.worksheet = worksheet

    def cell(self, value: Any, number_format: str | None = None) -> WriteOnlyCell:
        """A cell for `value`: text stays text (see the module docstring), figures stay numbers."""
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, Figure):
            number_format = number_format or value.number_format
            value = value.value
        if isinstance(value, str):
            text = _ILLEGAL.sub("", value)
            cell = WriteOnlyCell(self.worksheet, value=text)
            # openpyxl guesses a formula from a leading "=" and an error from "#N/A"; the text
            # came from a person, so it is a string whatever it looks like.
            cell.data_type = "s"
            if looks_like_formula(text):
                cell.quotePrefix = True
        else:
            cell = WriteOnlyCell(self.worksheet, value=value)
        if number_format:
            cell.number_format = number_format
        return cell

    def header(self, titles: Sequence[str], fill: str | None = None) -> None:
        """The bold title row, centred (and shaded with `fill`, an RGB colour, when given)."""
        from openpyxl.styles import Alignment, Font, PatternFill

        cells = []
        for title in titles:
            cell = self.cell(title)
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            if fill:
                cell.fill = PatternFill("solid", fgColor=fill)
            cells.append(cell)
        self.worksheet.append(cells)

    def row(self, values: Iterable[Any], number_format: str | None = None) -> None:
        """One row; `number_format` applies to every cell ("@": Excel keeps typed values text)."""
        self.worksheet.append([self.cell(value, number_format) for value in values])
