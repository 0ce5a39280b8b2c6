"""The town's roster sheet: read .xlsx/.csv with a clerk's Chinese headers, import it, export it.

An import is all or nothing: every row is checked first and any problem rejects the whole file
with a list of problems by row and column; only a clean file changes the database. The sheet is the
whole roster of one town: people are matched by phone and updated in place, people missing from
the sheet are deactivated (never deleted: their tickets stay theirs).

One module per job: `sheet` reads a file into rows, `values` reads a cell (phones, groups,
roles), `tree` holds the town's places, `validate` checks every row, `apply` writes a checked
sheet, `export` writes the roster and the template. The words are in models/texts.py.
"""

from models import texts
from models.roster.apply import (
    ImportResult,
    find_town,
    import_roster,
    import_sheet,
    iter_problems,
    preview_roster,
)
from models.roster.export import export_roster, roster_rows, write_template
from models.roster.sheet import (
    HEADERS,
    REQUIRED_FIELDS,
    RosterError,
    RosterProblem,
    Sheet,
    SheetRow,
    parse_table,
    read_sheet,
)
from models.roster.values import (
    COVERING_ROLES,
    DEMO_PHONE_PREFIX,
    LIST_SEPARATORS,
    MAX_GROUP_NUMBER,
    MAX_NAME_CHARS,
    ROLE_ALIASES,
    ROLE_ORDER,
    group_place_name,
    is_valid_phone,
    normalize_phone,
    normalize_unit_name,
    parse_group_number,
    split_list,
)

# The template's example row (an import skips a row identical to it) and its instructions.
EXAMPLE_ROW = texts.ROSTER_EXAMPLE_ROW
TEMPLATE_NOTES = texts.ROSTER_TEMPLATE_NOTES

__all__ = [
    "COVERING_ROLES",
    "DEMO_PHONE_PREFIX",
    "EXAMPLE_ROW",
    "HEADERS",
    "LIST_SEPARATORS",
    "MAX_GROUP_NUMBER",
    "MAX_NAME_CHARS",
    "REQUIRED_FIELDS",
    "ROLE_ALIASES",
    "ROLE_ORDER",
    "TEMPLATE_NOTES",
    "ImportResult",
    "RosterError",
    "RosterProblem",
    "Sheet",
    "SheetRow",
    "export_roster",
    "find_town",
    "group_place_name",
    "import_roster",
    "import_sheet",
    "is_valid_phone",
    "iter_problems",
    "normalize_phone",
    "normalize_unit_name",
    "parse_group_number",
    "parse_table",
    "preview_roster",
    "read_sheet",
    "roster_rows",
    "split_list",
    "write_template",
]
