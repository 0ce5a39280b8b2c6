"""The values of a roster's cells: phones, group numbers, unit names, lists, role words."""

from __future__ import annotations

import re

from models import texts
from models.person import ROLE_NAMES, Role
from models.roster.sheet import SheetRow, fold

ROLE_ALIASES: dict[str, Role] = {
    word: Role(role) for role, words in texts.ROLE_WORDS.items() for word in words.split()
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
LIST_SEPARATORS = re.compile(texts.CELL_LIST_SEPARATORS)

_MOBILE_PHONE = re.compile(r"^1[3-9]\d{9}$")
# The demo town's numbers (see models/demo_town.py): 11-digit numbers starting 100 belong to no
# mobile block of China's numbering plan (10x are carriers' service numbers such as 10086), so
# they cannot reach anybody, yet round-trip through an export like real ones.
DEMO_PHONE_PREFIX = "1000000"
_DEMO_PHONE = re.compile(rf"^{DEMO_PHONE_PREFIX}\d{{4}}$")
WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CN_DIGITS = texts.CHINESE_DIGITS
_TEN = texts.CHINESE_TEN
MAX_GROUP_NUMBER = 99
MAX_NAME_CHARS = 32


def normalize_phone(text: str) -> str:
    """Digits only, without +86 or separators; '' when there are none."""
    digits = re.sub(r"[\s\-()\uff08\uff09+]", "", fold(text))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def is_valid_phone(phone: str) -> bool:
    """An 11-digit mainland mobile number, or one of the demo town's reserved fake numbers."""
    return bool(_MOBILE_PHONE.match(phone) or _DEMO_PHONE.match(phone))


def parse_group_number(text: str) -> int | None:
    """3, 03, 3组, 第3组, 三组, 第十二组, 3队 → the number; None when it is not one."""
    t = fold(text).replace(" ", "")
    t = re.sub(texts.GROUP_PREFIX, "", t)
    t = re.sub(texts.GROUP_SUFFIX, "", t)
    if t.isdigit():
        return int(t)
    if not t or any(ch not in _CN_DIGITS and ch != _TEN for ch in t):
        return None
    if _TEN in t:
        tens, _, ones = t.partition(_TEN)
        if _TEN in ones:
            return None
        high = _CN_DIGITS[tens] if tens else 1
        low = _CN_DIGITS[ones] if ones else 0
        return high * 10 + low if len(tens) <= 1 and len(ones) <= 1 else None
    return _CN_DIGITS[t] if len(t) == 1 else None


def group_place_name(number: int) -> str:
    """How a 村民小组 is named in the tree."""
    return texts.GROUP_NAME.format(number=number)


def normalize_unit_name(text: str, town_name: str = "") -> str:
    """'大栗港镇水利站' and '镇水利站' are the 水利站 of the town."""
    name = fold(text)
    if town_name and name.startswith(town_name):
        name = name[len(town_name) :]
    if name.startswith(texts.TOWN_PREFIX) and len(name) > 1:
        name = name[1:]
    return name


def split_list(text: str) -> list[str]:
    """Several values in one cell, separated by 、，, / ; or spaces."""
    return [part for part in LIST_SEPARATORS.split(fold(text)) if part]


def roles_of_cell(text: str, row: SheetRow) -> tuple[set[Role], list[str]]:
    """The roles a cell names, and the words that name none."""
    roles: set[Role] = set()
    unknown: list[str] = []
    for word in split_list(text):
        if word in ROLE_ALIASES:
            roles.add(ROLE_ALIASES[word])
        elif word == texts.ROLE_SECRETARY:
            roles.add(Role.village_cadre if row.get("village") else Role.leader)
        elif word == texts.ROLE_DIRECTOR and row.get("village"):
            roles.add(Role.village_cadre)
        elif word == texts.ROLE_DIRECTOR and row.get("unit"):
            roles.add(Role.unit_head)
        else:
            unknown.append(word)
    return roles, unknown
