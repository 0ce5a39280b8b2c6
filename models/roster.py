"""The town's roster sheet: read .xlsx/.csv with a clerk's Chinese headers, import it, export it.

An import is all or nothing: every row is checked first and any problem rejects the whole file
with a list of problems by row and column; only a clean file changes the database. The sheet is the
whole roster of one town: people are matched by phone and updated in place, people missing from
the sheet are deactivated (never deleted: their tickets stay theirs).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from models.person import ROLE_NAMES, Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, add_place, subtree_filter
from models.sheets import XlsxBook, csv_value, looks_like_formula, write_csv

# Canonical headers, in the order the template and the export write them.
HEADERS: dict[str, str] = {
    "name": "姓名",
    "phone": "手机号",
    "roles": "角色",
    "title": "职务",
    "zone": "片区",
    "village": "村(社区)",
    "group": "组",
    "unit": "单位",
    "covers": "负责村",
    "supervisor": "上级",
    "wecom": "企业微信账号",
}
REQUIRED_FIELDS = ("name", "phone", "roles")

# What clerks write above a column (space-separated), compared after _header_key() folding.
_HEADER_WORDS: dict[str, str] = {
    "name": "姓名 名字 人员姓名 name",
    "phone": "手机号 手机 手机号码 电话 联系电话 电话号码 联系方式 手机/电话 phone",
    "roles": "角色 身份 人员类别 类别 人员类型",
    "title": "职务 职位",
    "zone": "片区 片区名称 所属片区",
    "village": "村(社区) 村/社区 村社区 村 社区 村名 所在村 所在村(社区) 村(居) 村居",
    "group": "组 村民小组 小组 组别 所在组 组号",
    "unit": "单位 所在单位 站所 部门 工作单位",
    "covers": "负责村 联系村 负责村/联系村 联系村/负责村 负责村(社区) 联系村(社区) 包村 所包村",
    "supervisor": "上级 上级领导 直接上级 上级姓名 上级(姓名或手机号)",
    "wecom": "企业微信账号 企业微信帐号 企业微信 企业微信id 企业微信userid 企微账号 userid",
}

# Role words a township clerk writes (space-separated); "书记" and "主任" depend on the row
# (see _roles_of).
_ROLE_WORDS: dict[Role, str] = {
    Role.neighbour_head: "邻长",
    Role.group_head: "组长 村民小组长 小组长",
    Role.zone_head: "片长",
    Role.village_cadre: (
        "村干部 村支书 支书 村书记 村党支部书记 村主任 村委主任 村委会主任 村委委员 村支两委 "
        "社区书记 社区主任 社区干部"
    ),
    Role.liaison: "包村干部 联村干部 驻村干部 包村",
    Role.unit_member: "站所成员 站所干部 站所工作人员 单位成员 工作人员 成员",
    Role.unit_head: "站所负责人 单位负责人 负责人 站长 所长 院长 校长",
    Role.dispatcher: "调度员 调度",
    Role.leader: "领导 镇领导 党委书记 镇长 副镇长 分管领导 分管副镇长 副书记 人大主席",
    Role.admin: "管理员 系统管理员",
}
ROLE_ALIASES: dict[str, Role] = {
    word: role for role, words in _ROLE_WORDS.items() for word in words.split()
} | {name: role for role, name in ROLE_NAMES.items()}
# The order people are listed in an export: the office first, the 邻长 last.
ROLE_ORDER: tuple[Role, ...] = (
    Role.leader,
    Role.dispatcher,
    Role.admin,
    Role.unit_head,
    Role.unit_member,
    Role.liaison,
    Role.village_cadre,
    Role.zone_head,
    Role.group_head,
    Role.neighbour_head,
)
COVERING_ROLES = (Role.liaison, Role.village_cadre)
LIST_SEPARATORS = re.compile(r"[、，,/;；\s]+")

# The template's example row; an import skips a row identical to it, so a clerk who forgets to
# delete it does not add a 张三 to the town.
EXAMPLE_ROW: dict[str, str] = {
    "name": "张三",
    "phone": "13800000000",
    "roles": "邻长",
    "title": "",
    "zone": "大栗港片",
    "village": "大栗港村",
    "group": "3",
    "unit": "",
    "covers": "",
    "supervisor": "李四",
    "wecom": "",
}
TEMPLATE_NOTES = (
    "填写说明",
    "1. 第一行是表头，请不要改动；第二行是示例，可以删掉（不删也不会被导入）。",
    "2. 姓名、手机号、角色必填。手机号为11位手机号码，同一个手机号只能出现一次。",
    "3. 角色可填：邻长、组长、片长、村干部（村支书、村主任）、包村干部、站所负责人、站所成员、"
    "调度员、领导、管理员；一人多个角色用“、”隔开。",
    "4. 邻长、组长要填村(社区)和组；片长要填村(社区)；站所人员要填单位；包村干部要填负责村。",
    "5. 新的村(社区)要同时填片区，系统会自动建立；组直接写数字，如 3 或 3组。",
    "6. 负责村可填多个村，用“、”隔开；村干部不填时默认负责本村。",
    "7. 上级填上级的姓名（重名时填手机号），上级也必须在本表中。",
    "8. 表里没有的人会被停用（不会删除，历史工单仍保留）。重复导入同一张表不会产生重复人员。",
)

_MOBILE_PHONE = re.compile(r"^1[3-9]\d{9}$")
# The demo town's numbers (see models/demo_town.py): 11-digit numbers starting 100 belong to no
# mobile block of China's numbering plan (10x are carriers' service numbers such as 10086), so
# they cannot reach anybody, yet round-trip through an export like real ones.
DEMO_PHONE_PREFIX = "1000000"
_DEMO_PHONE = re.compile(rf"^{DEMO_PHONE_PREFIX}\d{{4}}$")
_WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CN_DIGITS = {"零": 0, "\u3007": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS.update({"五": 5, "六": 6, "七": 7, "八": 8, "九": 9})
MAX_GROUP_NUMBER = 99
MAX_NAME_CHARS = 32


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
            where += f"第{self.row}行"
        if self.column:
            where += f"“{self.column}”"
        return f"{where}：{self.message}" if where else self.message


@dataclass
class ImportResult:
    """What an import did (or, with errors, the reasons it did nothing)."""

    added: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    places_added: int = 0
    units_added: int = 0
    skipped_example: bool = False
    errors: list[RosterProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line in Chinese for the clerk."""
        if self.errors:
            return f"导入失败，共 {len(self.errors)} 处问题，名册未做任何改动。"
        text = (
            f"导入成功：新增 {self.added} 人，更新 {self.updated} 人，停用 {self.deactivated} 人，"
            f"未变 {self.unchanged} 人；新建地名 {self.places_added} 个，"
            f"新建单位 {self.units_added} 个。"
        )
        if self.skipped_example:
            text += "（已跳过模板示例行）"
        return text


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


# ---------------------------------------------------------------------------- reading


def _fold(text: str) -> str:
    """Full-width forms to half-width (NFKC) and outer whitespace removed."""
    return unicodedata.normalize("NFKC", text).strip()


def _header_key(text: str) -> str:
    key = re.sub(r"\s+", "", _fold(text)).replace("*", "").lower()
    return re.sub(r"\((必填|选填|可选|可不填|非必填)\)", "", key)


_HEADER_LOOKUP = {
    _header_key(alias): name for name, words in _HEADER_WORDS.items() for alias in words.split()
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
    return _fold(str(value))


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
        wanted = "、".join(HEADERS[name] for name in REQUIRED_FIELDS)
        problem = RosterProblem(
            None,
            None,
            f"找不到表头行：前10行里没有同时包含“姓名”和“手机号”的行（需要的列：{wanted}）。",
        )
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
            problems.append(
                RosterProblem(header_number, cell, f"与“{columns[name]}”是同一列，请只保留一列。")
            )
            continue
        columns[name], positions[name] = cell, position
    for name in REQUIRED_FIELDS:
        if name not in positions:
            problems.append(RosterProblem(header_number, None, f"缺少“{HEADERS[name]}”列。"))
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
    raise RosterError("无法识别 CSV 文件的编码，请在 Excel 中另存为“CSV UTF-8”或 .xlsx。")


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
            raise RosterError(f"无法打开 Excel 文件：{exc}") from exc
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
    raise RosterError(f"只支持 .xlsx 和 .csv 文件，收到的是“{path.name}”。")


# ---------------------------------------------------------------------------- cell values


def normalize_phone(text: str) -> str:
    """Digits only, without +86 or separators; '' when there are none."""
    digits = re.sub(r"[\s\-()（）+]", "", _fold(text))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def is_valid_phone(phone: str) -> bool:
    """An 11-digit mainland mobile number, or one of the demo town's reserved fake numbers."""
    return bool(_MOBILE_PHONE.match(phone) or _DEMO_PHONE.match(phone))


def parse_group_number(text: str) -> int | None:
    """3, 03, 3组, 第3组, 三组, 第十二组, 3队 → the number; None when it is not one."""
    t = _fold(text).replace(" ", "")
    t = re.sub(r"^第", "", t)
    t = re.sub(r"(村民小组|小组|组|队)$", "", t)
    if t.isdigit():
        return int(t)
    if not t or any(ch not in _CN_DIGITS and ch != "十" for ch in t):
        return None
    if "十" in t:
        tens, _, ones = t.partition("十")
        if "十" in ones:
            return None
        high = _CN_DIGITS[tens] if tens else 1
        low = _CN_DIGITS[ones] if ones else 0
        return high * 10 + low if len(tens) <= 1 and len(ones) <= 1 else None
    return _CN_DIGITS[t] if len(t) == 1 else None


def group_place_name(number: int) -> str:
    """How a 村民小组 is named in the tree."""
    return f"{number}组"


def normalize_unit_name(text: str, town_name: str = "") -> str:
    """'大栗港镇水利站' and '镇水利站' are the 水利站 of the town."""
    name = _fold(text)
    if town_name and name.startswith(town_name):
        name = name[len(town_name) :]
    if name.startswith("镇") and len(name) > 1:
        name = name[1:]
    return name


def split_list(text: str) -> list[str]:
    """Several values in one cell, separated by 、，, / ; or spaces."""
    return [part for part in LIST_SEPARATORS.split(_fold(text)) if part]


def _roles_of(text: str, row: SheetRow) -> tuple[set[Role], list[str]]:
    roles: set[Role] = set()
    unknown: list[str] = []
    for word in split_list(text):
        if word in ROLE_ALIASES:
            roles.add(ROLE_ALIASES[word])
        elif word == "书记":
            roles.add(Role.village_cadre if row.get("village") else Role.leader)
        elif word == "主任" and row.get("village"):
            roles.add(Role.village_cadre)
        elif word == "主任" and row.get("unit"):
            roles.add(Role.unit_head)
        else:
            unknown.append(word)
    return roles, unknown


# ---------------------------------------------------------------------------- the town's tree


@dataclass
class _TownTree:
    """The places of one town, with the ones an import would add, by name."""

    town: Place | None
    zones: dict[str, Place]
    villages: dict[str, Place]
    village_zone: dict[str, str | None]  # village name → its 片区 name (None: under the town)
    groups: set[tuple[str, int]]
    new_zones: list[str] = field(default_factory=list)
    new_villages: dict[str, str | None] = field(default_factory=dict)
    new_groups: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, town: Place | None) -> _TownTree:
        if town is None:
            return cls(None, {}, {}, {}, set())
        places = list(session.exec(select(Place).where(subtree_filter(Place.path, town))))
        by_id = {p.id: p for p in places}
        zones = {p.name: p for p in places if p.kind == PlaceKind.zone and p.parent_id == town.id}
        villages: dict[str, Place] = {}
        village_zone: dict[str, str | None] = {}
        for place in places:
            if place.kind != PlaceKind.village:
                continue
            villages[place.name] = place
            parent = by_id.get(place.parent_id)
            village_zone[place.name] = (
                parent.name if parent and parent.kind == PlaceKind.zone else None
            )
        groups = set()
        for place in places:
            parent = by_id.get(place.parent_id)
            if place.kind != PlaceKind.group or place.number is None or parent is None:
                continue
            if parent.kind == PlaceKind.village:
                groups.add((parent.name, place.number))
        return cls(town, zones, villages, village_zone, groups)

    def find_village(self, name: str) -> str | None:
        """The village's name in the tree: '大栗港' finds 大栗港村, '杨家嘴' finds 杨家嘴社区."""
        for candidate in (name, name + "村", name + "社区"):
            if candidate in self.villages or candidate in self.new_villages:
                return candidate
        return None

    def zone_of(self, village: str) -> str | None:
        if village in self.village_zone:
            return self.village_zone[village]
        return self.new_villages.get(village)

    def plan_zone(self, name: str) -> None:
        if name not in self.zones and name not in self.new_zones:
            self.new_zones.append(name)

    def plan_group(self, village: str, number: int) -> None:
        key = (village, number)
        if key not in self.groups and key not in self.new_groups:
            self.new_groups.append(key)


# ---------------------------------------------------------------------------- checking


@dataclass
class _Row:
    """A row that passed its own checks, with its place planned by name."""

    number: int
    name: str
    phone: str
    roles: set[Role]
    title: str | None
    zone: str | None
    village: str | None
    group: int | None
    unit: str | None
    covers: list[str]
    supervisor_ref: str
    wecom: str | None
    supervisor: _Row | None = None
    outside_supervisor: Person | None = None
    person: Person | None = None


class _Checker:
    """Checks every row of a sheet against itself and the database, collecting every problem."""

    def __init__(self, session: Session, sheet: Sheet, tree: _TownTree) -> None:
        self.session = session
        self.sheet = sheet
        self.tree = tree
        self.problems: list[RosterProblem] = list(sheet.problems)
        self.rows: list[_Row] = []
        self.sheet_zones: dict[str, str] = {}
        self.rejected: set[str] = set()  # names, phones and villages of rows with a problem

    def problem(self, row: int, column: str | None, message: str) -> None:
        label = self.sheet.column(column) if column else None
        self.problems.append(RosterProblem(row, label, message))

    def check(self) -> list[_Row]:
        # Clerks often write the 片区 on one row of a village only; any row that names both
        # places the village for all of its rows.
        for raw in self.sheet.rows:
            if raw.get("zone") and raw.get("village"):
                self.sheet_zones.setdefault(raw.get("village"), raw.get("zone"))
        for raw in self.sheet.rows:
            parsed = self._check_row(raw)
            if parsed is not None:
                self.rows.append(parsed)
        self._check_duplicates()
        self._check_covers()
        self._check_supervisors()
        self._check_database_conflicts()
        self.problems.sort(key=lambda p: p.row or 0)
        return self.rows

    def _check_row(self, raw: SheetRow) -> _Row | None:
        n = raw.number
        ok = True
        name = re.sub(r"\s+", "", raw.get("name"))
        if not name:
            self.problem(n, "name", "姓名不能为空。")
            ok = False
        elif len(name) > MAX_NAME_CHARS:
            self.problem(n, "name", f"姓名太长（最多{MAX_NAME_CHARS}个字）。")
            ok = False
        elif looks_like_formula(name):
            # No name starts so; a sheet would run it as a formula. Other columns keep such
            # text as typed (a 职务 of "-"), and every export writes it back as text.
            self.problem(n, "name", f"“{name}”不像姓名：姓名不能以 = + - @ 开头。")
            ok = False
        phone = normalize_phone(raw.get("phone"))
        if not phone:
            self.problem(n, "phone", "手机号不能为空。")
            ok = False
        elif not is_valid_phone(phone):
            self.problem(n, "phone", f"“{raw.get('phone')}”不是11位手机号码。")
            ok = False
        roles, unknown = _roles_of(raw.get("roles"), raw)
        if unknown:
            known = "、".join(ROLE_NAMES[r] for r in ROLE_ORDER)
            self.problem(n, "roles", f"不认识的角色“{'、'.join(unknown)}”，可填：{known}。")
            ok = False
        elif not roles:
            self.problem(n, "roles", "角色不能为空。")
            ok = False
        title = raw.get("title") or None
        if title and len(title) > 32:
            self.problem(n, "title", "职务太长（最多32个字）。")
            ok = False
        zone = raw.get("zone") or None
        village_text = raw.get("village") or None
        group = None
        if raw.get("group"):
            group = parse_group_number(raw.get("group"))
            if group is None or not 1 <= group <= MAX_GROUP_NUMBER:
                self.problem(n, "group", f"“{raw.get('group')}”不是组号，请写数字，如 3 或 3组。")
                ok = False
            elif not village_text:
                self.problem(n, "village", "填了组，但没有填村(社区)。")
                ok = False
        unit = normalize_unit_name(raw.get("unit"), self.tree.town.name if self.tree.town else "")
        wecom = raw.get("wecom") or None
        if wecom and not _WECOM_USERID.match(wecom):
            self.problem(n, "wecom", f"“{wecom}”不像企业微信账号（只能有字母、数字和 _ . @ -）。")
            ok = False
        needs = {
            Role.neighbour_head: ("village", "group"),
            Role.group_head: ("village", "group"),
            Role.zone_head: ("village",),
            Role.unit_member: ("unit",),
            Role.unit_head: ("unit",),
        }
        for role in sorted(roles, key=ROLE_ORDER.index):
            for column in needs.get(role, ()):
                if not raw.get(column):
                    self.problem(
                        n, column, f"角色是{ROLE_NAMES[role]}，必须填写“{HEADERS[column]}”。"
                    )
                    ok = False
        covers = split_list(raw.get("covers"))
        if Role.liaison in roles and not covers:
            self.problem(n, "covers", "包村干部必须填写负责村。")
            ok = False
        if Role.village_cadre in roles and not covers and not village_text:
            self.problem(n, "village", "村干部必须填写村(社区)或负责村。")
            ok = False
        if covers and not roles & set(COVERING_ROLES) and roles:
            self.problem(n, "covers", "只有村干部、包村干部填写负责村。")
            ok = False
        village = self._plan_place(n, zone, village_text, group) if ok else None
        if not ok or (village_text and village is None):
            # Other rows may point at this one; its own problem is the one worth reporting.
            self.rejected.update(filter(None, (name, phone, village_text)))
            return None
        return _Row(
            number=n,
            name=name,
            phone=phone,
            roles=roles,
            title=title,
            zone=zone,
            village=village,
            group=group,
            unit=unit or None,
            covers=covers,
            supervisor_ref=raw.get("supervisor"),
            wecom=wecom,
        )

    def _plan_place(
        self, n: int, zone: str | None, village_text: str | None, group: int | None
    ) -> str | None:
        """Plan the row's 片区/村/组; returns the village's name in the tree (or None)."""
        tree = self.tree
        if zone is not None:
            tree.plan_zone(zone)
        if village_text is None:
            return None
        village = tree.find_village(village_text)
        if village is not None:
            known_zone = tree.zone_of(village)
            if zone is not None and known_zone != zone:
                where = f"“{known_zone}”片区" if known_zone else "镇下，不属于任何片区"
                self.problem(n, "zone", f"“{village}”在{where}，与本行填的“{zone}”不一致。")
                return None
        elif zone is None and village_text in self.sheet_zones:
            village = village_text
            zone = self.sheet_zones[village_text]
            tree.plan_zone(zone)
            tree.new_villages[village] = zone
        elif zone is None and (tree.zones or self.sheet_zones):
            self.problem(
                n, "village", f"“{village_text}”不在本镇的村(社区)中；如果是新村，请同时填写片区。"
            )
            return None
        else:
            village = village_text
            tree.new_villages[village] = zone
        if group is not None:
            tree.plan_group(village, group)
        return village

    def _check_duplicates(self) -> None:
        for column, key in (("phone", "phone"), ("wecom", "wecom")):
            seen: dict[str, int] = {}
            for row in self.rows:
                value = getattr(row, key)
                if not value:
                    continue
                if value in seen:
                    self.problem(row.number, column, f"与第{seen[value]}行重复（{value}）。")
                else:
                    seen[value] = row.number

    def _check_covers(self) -> None:
        for row in self.rows:
            found = []
            for text in row.covers:
                village = self.tree.find_village(text)
                if village is None and text in self.rejected:
                    continue
                if village is None:
                    self.problem(row.number, "covers", f"负责村“{text}”不在本镇的村(社区)中。")
                else:
                    found.append(village)
            row.covers = list(dict.fromkeys(found))

    def _check_supervisors(self) -> None:
        by_phone = {row.phone: row for row in self.rows}
        by_name: dict[str, list[_Row]] = defaultdict(list)
        for row in self.rows:
            by_name[row.name].append(row)
        outside_phones = [
            normalize_phone(r.supervisor_ref)
            for r in self.rows
            if r.supervisor_ref and normalize_phone(r.supervisor_ref) not in by_phone
        ]
        outside: dict[str, Person] = {}
        if outside_phones:
            stmt = select(Person).where(
                col(Person.phone).in_(outside_phones), col(Person.active).is_(True)
            )
            outside = {p.phone: p for p in self.session.exec(stmt)}
        for row in self.rows:
            ref = re.sub(r"\s+", "", row.supervisor_ref)
            if not ref:
                continue
            phone = normalize_phone(ref)
            if phone.isdigit():
                if phone in by_phone:
                    row.supervisor = by_phone[phone]
                elif phone in outside:
                    row.outside_supervisor = outside[phone]
                elif phone not in self.rejected:
                    self.problem(row.number, "supervisor", f"上级手机号“{ref}”不在本表中。")
                    continue
            else:
                matches = by_name.get(ref, [])
                if not matches:
                    if ref not in self.rejected:
                        self.problem(row.number, "supervisor", f"上级“{ref}”不在本表中。")
                    continue
                if len(matches) > 1:
                    lines = "、".join(str(m.number) for m in matches)
                    self.problem(
                        row.number,
                        "supervisor",
                        f"本表有{len(matches)}人叫“{ref}”（第{lines}行），请改填上级的手机号。",
                    )
                    continue
                row.supervisor = matches[0]
            if row.supervisor is row:
                self.problem(row.number, "supervisor", "上级不能是本人。")
                row.supervisor = None
        self._check_cycles()

    def _check_cycles(self) -> None:
        reported: set[int] = set()
        for row in self.rows:
            seen: list[_Row] = []
            current: _Row | None = row
            while current is not None and current not in seen:
                seen.append(current)
                current = current.supervisor
            if current is None:
                continue
            cycle = seen[seen.index(current) :]
            if any(id(r) in reported for r in cycle):
                continue
            reported.update(id(r) for r in cycle)
            lines = "、".join(str(r.number) for r in sorted(cycle, key=lambda r: r.number))
            first = min(cycle, key=lambda r: r.number)
            self.problem(first.number, "supervisor", f"第{lines}行的上级互相指向，形成了循环。")

    def _check_database_conflicts(self) -> None:
        """A phone or 企业微信账号 held by an active person of another town cannot move here."""
        town = self.tree.town
        by_phone = {row.phone: row for row in self.rows}
        by_userid = {row.wecom: row for row in self.rows if row.wecom}
        if not by_phone:
            return
        stmt = (
            select(Person, Place)
            .join(Place, col(Place.id) == Person.place_id)
            .where(col(Person.active).is_(True))
            .where(
                col(Person.phone).in_(list(by_phone))
                | col(Person.wecom_userid).in_(list(by_userid))
            )
        )
        for person, place in self.session.exec(stmt):
            if town is not None and place.path.startswith(town.path):
                continue
            if person.phone in by_phone:
                row = by_phone[person.phone]
                message = f"该手机号已登记在{place.name}的{person.name}名下（不在本镇）。"
                self.problem(row.number, "phone", message)
            if person.wecom_userid in by_userid:
                row = by_userid[person.wecom_userid]
                message = f"该企业微信账号已属于{place.name}的{person.name}（不在本镇）。"
                self.problem(row.number, "wecom", message)


# ---------------------------------------------------------------------------- importing


def find_town(session: Session, name: str | None = None) -> Place | None:
    """The town by name, or the only town when no name is given."""
    stmt = select(Place).where(Place.kind == PlaceKind.town.value)
    if name:
        stmt = stmt.where(Place.name == name)
    towns = list(session.exec(stmt.order_by(col(Place.id))))
    return towns[0] if len(towns) == 1 or (name and towns) else None


def _is_example(row: SheetRow) -> bool:
    values = {k: v for k, v in row.values.items() if v}
    return values == {k: v for k, v in EXAMPLE_ROW.items() if v and k in row.values}


def import_roster(
    session: Session,
    path: Path,
    *,
    town_name: str | None = None,
    county_name: str | None = None,
) -> ImportResult:
    """Import the town's sheet, all or nothing; the caller's transaction commits."""
    try:
        sheet = read_sheet(path)
    except RosterError as exc:
        return ImportResult(errors=[RosterProblem(None, None, str(exc))])
    return import_sheet(session, sheet, town_name=town_name, county_name=county_name)


def import_sheet(
    session: Session,
    sheet: Sheet,
    *,
    town_name: str | None = None,
    county_name: str | None = None,
) -> ImportResult:
    """Import an already read sheet (see import_roster)."""
    result = ImportResult()
    if sheet.rows and _is_example(sheet.rows[0]):
        sheet = Sheet(sheet.rows[1:], sheet.columns, sheet.problems)
        result.skipped_example = True
    town = find_town(session, town_name)
    if town is None and not town_name:
        count = len(list(session.exec(select(Place.id).where(Place.kind == PlaceKind.town.value))))
        message = (
            "数据库里还没有镇，请用 --town 指定镇名。"
            if count == 0
            else "数据库里有多个镇，请用 --town 指定导入哪个镇。"
        )
        result.errors.append(RosterProblem(None, None, message))
        return result
    tree = _TownTree.load(session, town)
    checker = _Checker(session, sheet, tree)
    rows = checker.check()
    if not sheet.rows and not checker.problems:
        checker.problems.append(
            RosterProblem(None, None, "表中没有人员：整张表为空时不导入，以免停用所有人。")
        )
    if checker.problems:
        result.errors = checker.problems
        return result
    if town is None:
        assert town_name is not None
        town, created = _create_town(session, town_name, county_name)
        result.places_added += created
        tree.town = town
    _Applier(session, town, tree, rows, result).apply()
    return result


def _create_town(session: Session, town_name: str, county_name: str | None) -> tuple[Place, int]:
    """The new town (under its county, made when missing) and how many places were made."""
    county = None
    created = 1
    if county_name:
        stmt = select(Place).where(Place.name == county_name, col(Place.parent_id).is_(None))
        county = session.exec(stmt).first()
        if county is None:
            county = add_place(session, county_name, PlaceKind.county)
            created += 1
    return add_place(session, town_name, PlaceKind.town, county), created


_State = tuple[Any, ...]


class _Applier:
    """Writes a checked sheet: places and units first, then people, roles, coverage, drops."""

    def __init__(
        self, session: Session, town: Place, tree: _TownTree, rows: list[_Row], result: ImportResult
    ) -> None:
        self.session = session
        self.town = town
        self.tree = tree
        self.rows = rows
        self.result = result

    def apply(self) -> None:
        session = self.session
        villages, groups = self._create_places()
        units = self._create_units()
        phones = [row.phone for row in self.rows]
        existing = {
            p.phone: p for p in session.exec(select(Person).where(col(Person.phone).in_(phones)))
        }
        ids = [p.id for p in existing.values()]
        roles_before: dict[int | None, set[str]] = defaultdict(set)
        for pr in session.exec(select(PersonRole).where(col(PersonRole.person_id).in_(ids))):
            roles_before[pr.person_id].add(pr.role)
        covers_before: dict[int | None, set[tuple[int, str]]] = defaultdict(set)
        for cov in session.exec(select(Coverage).where(col(Coverage.person_id).in_(ids))):
            covers_before[cov.person_id].add((cov.place_id, cov.role))
        before = {
            phone: (
                p.name,
                p.place_id,
                p.unit_id,
                p.supervisor_id,
                p.title,
                p.active,
                p.wecom_userid,
                frozenset(roles_before[p.id]),
                frozenset(covers_before[p.id]),
            )
            for phone, p in existing.items()
        }
        self._release_identities(existing)

        for row in self.rows:
            person = existing.get(row.phone)
            if person is None:
                person = Person(
                    name=row.name, phone=row.phone, place_id=self._place_id(row, villages, groups)
                )
                session.add(person)
                self.result.added += 1
            row.person = person
        session.flush()

        for row in self.rows:
            person = row.person
            assert person is not None and person.id is not None
            supervisor = row.supervisor.person if row.supervisor else row.outside_supervisor
            roles = {role.value for role in row.roles}
            covers = self._covers_of(row, villages)
            after: _State = (
                row.name,
                self._place_id(row, villages, groups),
                units[row.unit].id if row.unit else None,
                supervisor.id if supervisor else None,
                row.title,
                True,
                row.wecom,
                frozenset(roles),
                frozenset(covers),
            )
            if row.phone in before:
                if before[row.phone] == after:
                    self.result.unchanged += 1
                    continue
                self.result.updated += 1
            person.name, person.place_id, person.unit_id, person.supervisor_id = after[:4]
            person.title, person.active, person.wecom_userid = row.title, True, row.wecom
            session.add(person)
            old_roles = roles_before[person.id]
            for role in old_roles - roles:
                session.exec(
                    delete(PersonRole).where(
                        col(PersonRole.person_id) == person.id, col(PersonRole.role) == role
                    )
                )
            for role in sorted(roles - old_roles):
                session.add(PersonRole(person_id=person.id, role=role))
            old_covers = covers_before[person.id]
            for place_id, role in old_covers - covers:
                session.exec(
                    delete(Coverage).where(
                        col(Coverage.person_id) == person.id,
                        col(Coverage.place_id) == place_id,
                        col(Coverage.role) == role,
                    )
                )
            for place_id, role in sorted(covers - old_covers):
                session.add(Coverage(person_id=person.id, place_id=place_id, role=role))
        session.flush()

    def _release_identities(self, existing: dict[str, Person]) -> None:
        """Deactivate the dropped, and free every userid that moves, before anyone takes one.

        The identity columns are unique, so a userid passing from one person to another (or
        from a dropped person to a new one) must be let go of first.
        """
        session = self.session
        sheet_phones = {row.phone for row in self.rows}
        stmt = (
            select(Person)
            .join(Place, col(Place.id) == Person.place_id)
            .where(subtree_filter(Place.path, self.town), col(Person.active).is_(True))
        )
        dropped = [p for p in session.exec(stmt) if p.phone not in sheet_phones]
        for person in dropped:
            # Dropped people leave WeChat too: their openid may bind to a new roster entry.
            person.active = False
            person.wechat_openid = person.wecom_userid = None
            person.bound_at = None
            session.add(person)
            session.exec(delete(Coverage).where(col(Coverage.person_id) == person.id))
        self.result.deactivated = len(dropped)
        wanted = [row.wecom for row in self.rows if row.wecom]
        if wanted:
            holders = select(Person).where(
                col(Person.wecom_userid).in_(wanted),
                col(Person.active).is_(False),
                col(Person.phone).not_in(sheet_phones),
            )
            for holder in session.exec(holders).all():
                holder.wecom_userid = None
                session.add(holder)
        for row in self.rows:
            known = existing.get(row.phone)
            if known is not None and known.wecom_userid not in (None, row.wecom):
                known.wecom_userid = None
                session.add(known)
        session.flush()

    def _place_id(
        self, row: _Row, villages: dict[str, Place], groups: dict[tuple[str, int], Place]
    ) -> int:
        if row.village and row.group is not None:
            place = groups[(row.village, row.group)]
        elif row.village:
            place = villages[row.village]
        elif row.zone:
            place = self.tree.zones[row.zone]
        else:
            place = self.town
        assert place.id is not None
        return place.id

    def _covers_of(self, row: _Row, villages: dict[str, Place]) -> set[tuple[int, str]]:
        """Coverage rows: a village cadre answers for their own village unless told otherwise."""
        own = row.village if Role.village_cadre in row.roles else None
        names = row.covers or ([own] if own else [])
        covers = set()
        for name in names:
            village_id = villages[name].id
            assert village_id is not None
            # Someone who is both 村干部 and 包村干部 is the cadre of their own village only.
            is_liaison = Role.liaison in row.roles and (own is None or name != own)
            role = Role.liaison if is_liaison else Role.village_cadre
            covers.add((village_id, role.value))
        return covers

    def _create_places(self) -> tuple[dict[str, Place], dict[tuple[str, int], Place]]:
        tree, session = self.tree, self.session
        for name in tree.new_zones:
            tree.zones[name] = add_place(session, name, PlaceKind.zone, self.town)
        for name, zone in tree.new_villages.items():
            parent = tree.zones[zone] if zone else self.town
            tree.villages[name] = add_place(session, name, PlaceKind.village, parent)
        self.result.places_added += len(tree.new_zones) + len(tree.new_villages)
        names_by_id = {p.id: name for name, p in tree.villages.items()}
        groups: dict[tuple[str, int], Place] = {}
        stmt = select(Place).where(
            col(Place.parent_id).in_(list(names_by_id)), Place.kind == PlaceKind.group.value
        )
        for place in session.exec(stmt):
            if place.number is not None and place.parent_id in names_by_id:
                groups[(names_by_id[place.parent_id], place.number)] = place
        for village, number in tree.new_groups:
            groups[(village, number)] = add_place(
                session,
                group_place_name(number),
                PlaceKind.group,
                tree.villages[village],
                number=number,
            )
        self.result.places_added += len(tree.new_groups)
        return tree.villages, groups

    def _create_units(self) -> dict[str, Unit]:
        stmt = select(Unit).where(Unit.town_id == self.town.id)
        units = {unit.name: unit for unit in self.session.exec(stmt)}
        assert self.town.id is not None
        for name in sorted({row.unit for row in self.rows if row.unit} - set(units)):
            units[name] = Unit(name=name, town_id=self.town.id)
            self.session.add(units[name])
            self.result.units_added += 1
        self.session.flush()
        return units


# ---------------------------------------------------------------------------- writing


def roster_rows(session: Session, town: Place) -> list[dict[str, str]]:
    """The town's active roster as sheet rows (field → text), in a stable order."""
    places = {p.id: p for p in session.exec(select(Place).where(subtree_filter(Place.path, town)))}
    active = select(Person).where(col(Person.active).is_(True), col(Person.place_id).in_(places))
    people = list(session.exec(active))
    ids = [p.id for p in people]
    roles: dict[int, set[Role]] = defaultdict(set)
    for pr in session.exec(select(PersonRole).where(col(PersonRole.person_id).in_(ids))):
        if pr.role in Role.__members__:
            roles[pr.person_id].add(Role(pr.role))
    covers: dict[int, list[str]] = defaultdict(list)
    stmt = (
        select(Coverage, Place)
        .join(Place, col(Place.id) == Coverage.place_id)
        .where(
            col(Coverage.person_id).in_(ids),
            col(Coverage.role).in_([r.value for r in COVERING_ROLES]),
        )
        .order_by(col(Place.path))
    )
    for cov, covered in session.exec(stmt):
        if covered.name not in covers[cov.person_id]:
            covers[cov.person_id].append(covered.name)
    units = {u.id: u.name for u in session.exec(select(Unit).where(Unit.town_id == town.id))}
    name_counts = Counter(p.name for p in people)
    by_id = {p.id: p for p in people}
    outside_ids = {
        p.supervisor_id for p in people if p.supervisor_id and p.supervisor_id not in by_id
    }
    outside = (
        {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(list(outside_ids))))}
        if outside_ids
        else {}
    )

    def location(person: Person) -> tuple[str, str, str]:
        zone = village = group = ""
        place = places.get(person.place_id)
        while place is not None and place.id != town.id:
            if place.kind == PlaceKind.zone:
                zone = zone or place.name
            elif place.kind == PlaceKind.village:
                village = village or place.name
            elif place.kind == PlaceKind.group and place.number is not None:
                group = group or str(place.number)
            place = places.get(place.parent_id)
        return zone, village, group

    rows: list[tuple[tuple[Any, ...], dict[str, str]]] = []
    for person in people:
        assert person.id is not None
        zone, village, group = location(person)
        person_roles = sorted(roles[person.id], key=ROLE_ORDER.index)
        supervisor = ""
        boss = by_id.get(person.supervisor_id) or outside.get(person.supervisor_id)
        if boss is not None:
            unique = boss.id in by_id and name_counts[boss.name] == 1
            supervisor = boss.name if unique else boss.phone
        person_covers = covers[person.id]
        values = {
            "name": person.name,
            "phone": person.phone,
            "roles": "、".join(ROLE_NAMES[r] for r in person_roles),
            "title": person.title or "",
            "zone": zone,
            "village": village,
            "group": group,
            "unit": units.get(person.unit_id, "") if person.unit_id else "",
            "covers": "、".join(person_covers),
            "supervisor": supervisor,
            "wecom": person.wecom_userid or "",
        }
        rank = min((ROLE_ORDER.index(r) for r in person_roles), default=len(ROLE_ORDER))
        home = places.get(person.place_id)
        rows.append(((rank, home.path if home else "", int(group or 0), person.id), values))
    rows.sort(key=lambda item: item[0])
    return [values for _key, values in rows]


_COLUMN_WIDTHS = {
    "姓名": 10,
    "手机号": 14,
    "角色": 16,
    "职务": 14,
    "片区": 10,
    "村(社区)": 12,
    "组": 6,
}


def _write_xlsx(path: Path, rows: Iterable[dict[str, str]], notes: Sequence[str] = ()) -> None:
    book = XlsxBook()
    widths = [_COLUMN_WIDTHS.get(header, 16) for header in HEADERS.values()]
    sheet = book.sheet("名册", widths, freeze="A2")
    sheet.header(list(HEADERS.values()), fill="DDEBF7")
    for values in rows:
        # Text cells: phones and groups stay as typed (no 1.38E+10, no dropped leading zero),
        # and a name or title that starts like a formula stays a name.
        sheet.row([values.get(name, "") for name in HEADERS], number_format="@")
    if notes:
        help_sheet = book.sheet("填写说明", [100])
        for line in notes:
            help_sheet.row([line])
    book.save(path)


def _write_csv(path: Path, rows: Iterable[dict[str, str]]) -> None:
    write_csv(path, list(HEADERS.values()), ([v.get(n, "") for n in HEADERS] for v in rows))


def write_template(path: Path) -> None:
    """An empty roster sheet with the headers, one example row and a sheet of instructions."""
    _write_xlsx(path, [EXAMPLE_ROW], TEMPLATE_NOTES)


def export_roster(session: Session, path: Path, town: Place) -> int:
    """Write the town's active roster to .xlsx or .csv; returns the number of people."""
    rows = roster_rows(session, town)
    if path.suffix.lower() == ".csv":
        _write_csv(path, rows)
    else:
        _write_xlsx(path, rows)
    return len(rows)


def iter_problems(result: ImportResult) -> Iterator[str]:
    """The problems of a failed import, one Chinese sentence each."""
    for problem in result.errors:
        yield str(problem)
