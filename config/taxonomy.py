"""The grievance taxonomy: categories, their signal words, and urgency / non-grievance cues.

The data lives in ``taxonomy.toml`` beside this module so that a township office can edit it
without touching code; this module only reads and validates it. It imports nothing of the
project on purpose (``config`` sits below every other package).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("taxonomy.toml")

# The codes are the contract with routing, tickets and reports, so the file may not add or
# drop any: only their names, words, level and unit are the office's to change.
CATEGORY_CODES: tuple[str, ...] = (
    "road",
    "water",
    "irrigation",
    "power",
    "environment",
    "social_security",
    "medical",
    "education",
    "housing",
    "agriculture",
    "dispute",
    "safety",
    "other",
)
LEVELS: tuple[str, ...] = ("village", "town")
TIERS: tuple[str, ...] = ("strong", "keywords", "weak")

_TOP_KEYS = {"weights", "categories", "matching", "urgency", "non_grievance", "homophones"}
_CATEGORY_KEYS = {"code", "名称", "level", "unit", *TIERS}
_MATCHING_KEYS = {"neutral", "requests", "connectors"}
_MATCHING_OPTIONAL = {"heads"}
_URGENCY_KEYS = {
    "explicit",
    "not_urgent",
    "hazards",
    "outage",
    "duration",
    "vulnerable",
    "needs",
}
# Later additions: optional so that an office's older copy of the file still loads.
_URGENCY_OPTIONAL = {"aftermath", "partial", "waterside", "children"}
_NON_GRIEVANCE_KEYS = {
    "acks",
    "thanks",
    "greetings",
    "logistics",
    "forwarded",
    "resolved",
    "contrast",
}
_NON_GRIEVANCE_OPTIONAL = {"not_resolved"}


@dataclass(frozen=True)
class Category:
    """One grievance category with its weighted signal words and default handler."""

    code: str
    name: str
    keywords: tuple[tuple[str, float], ...]
    level: str
    unit: str


@dataclass(frozen=True)
class UrgencyCues:
    """Word lists behind the urgency rule (see the eval README)."""

    explicit: tuple[str, ...]
    not_urgent: tuple[str, ...]
    hazards: tuple[str, ...]
    outage: tuple[str, ...]
    duration: tuple[str, ...]
    vulnerable: tuple[str, ...]
    needs: tuple[str, ...]
    aftermath: tuple[str, ...] = ()
    partial: tuple[str, ...] = ()
    waterside: tuple[str, ...] = ()
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class NonGrievanceCues:
    """Word lists that mark greetings, thanks, acknowledgements and internal logistics."""

    acks: tuple[str, ...]
    thanks: tuple[str, ...]
    greetings: tuple[str, ...]
    logistics: tuple[str, ...]
    forwarded: tuple[str, ...]
    resolved: tuple[str, ...]
    contrast: tuple[str, ...]
    not_resolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """The whole validated taxonomy file."""

    categories: tuple[Category, ...]
    neutral: tuple[str, ...]
    requests: tuple[str, ...]
    connectors: tuple[str, ...]
    urgency: UrgencyCues
    non_grievance: NonGrievanceCues
    homophones: tuple[tuple[str, str], ...]
    heads: tuple[str, ...] = ()

    def get(self, code: str) -> Category:
        """Return the category with this code; KeyError if there is none."""
        for category in self.categories:
            if category.code == code:
                return category
        raise KeyError(f"unknown category code {code!r}")

    @property
    def codes(self) -> tuple[str, ...]:
        """The category codes in file order."""
        return tuple(c.code for c in self.categories)

    def homophone_map(self) -> dict[str, frozenset[str]]:
        """Map each village-name character to the characters voice input confuses it with."""
        return {char: frozenset(alts) for char, alts in self.homophones}


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and validate the taxonomy TOML (default: ``taxonomy.toml`` beside this module)."""
    source = DEFAULT_PATH if path is None else path
    with source.open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    return parse_taxonomy(data, where=str(source))


def parse_taxonomy(data: dict[str, Any], where: str = "taxonomy") -> Taxonomy:
    """Validate an already-decoded taxonomy document and build the Taxonomy."""
    _check_keys(data, _TOP_KEYS, _TOP_KEYS, where)
    weights = _parse_weights(data["weights"], f"{where}: [weights]")

    raw_categories = data["categories"]
    if not isinstance(raw_categories, list):
        raise ValueError(f"{where}: [[categories]] must be an array of tables")
    categories = tuple(
        _parse_category(raw, weights, f"{where}: [[categories]] #{index + 1}")
        for index, raw in enumerate(raw_categories)
    )
    codes = [c.code for c in categories]
    for code in codes:
        if codes.count(code) > 1:
            raise ValueError(f"{where}: category {code!r} is defined more than once")
    missing = [code for code in CATEGORY_CODES if code not in codes]
    if missing:
        raise ValueError(f"{where}: categories missing: {', '.join(missing)}")

    matching = _table(data["matching"], f"{where}: [matching]")
    _check_keys(
        matching, _MATCHING_KEYS, _MATCHING_KEYS | _MATCHING_OPTIONAL, f"{where}: [matching]"
    )
    urgency = _table(data["urgency"], f"{where}: [urgency]")
    _check_keys(urgency, _URGENCY_KEYS, _URGENCY_KEYS | _URGENCY_OPTIONAL, f"{where}: [urgency]")
    non_grievance = _table(data["non_grievance"], f"{where}: [non_grievance]")
    _check_keys(
        non_grievance,
        _NON_GRIEVANCE_KEYS,
        _NON_GRIEVANCE_KEYS | _NON_GRIEVANCE_OPTIONAL,
        f"{where}: [non_grievance]",
    )

    def words(table: dict[str, Any], key: str, section: str) -> tuple[str, ...]:
        return _word_list(table[key], f"{where}: [{section}] {key}")

    for head in matching.get("heads", []):
        if not isinstance(head, str) or len(head) != 1:
            raise ValueError(f"{where}: [matching] heads: {head!r} must be a single character")

    return Taxonomy(
        categories=categories,
        neutral=words(matching, "neutral", "matching"),
        requests=words(matching, "requests", "matching"),
        connectors=words(matching, "connectors", "matching"),
        urgency=UrgencyCues(
            **{k: words(urgency, k, "urgency") for k in sorted(_URGENCY_KEYS)},
            **{k: words(urgency, k, "urgency") for k in sorted(_URGENCY_OPTIONAL & set(urgency))},
        ),
        non_grievance=NonGrievanceCues(
            **{k: words(non_grievance, k, "non_grievance") for k in sorted(_NON_GRIEVANCE_KEYS)},
            **{
                k: words(non_grievance, k, "non_grievance")
                for k in sorted(_NON_GRIEVANCE_OPTIONAL & set(non_grievance))
            },
        ),
        homophones=_parse_homophones(data["homophones"], f"{where}: [homophones]"),
        heads=words(matching, "heads", "matching") if "heads" in matching else (),
    )


def _parse_weights(raw: Any, where: str) -> dict[str, float]:
    table = _table(raw, where)
    _check_keys(table, set(TIERS), set(TIERS), where)
    weights: dict[str, float] = {}
    for tier in TIERS:
        weights[tier] = _weight(table[tier], f"{where} {tier}")
    return weights


def _parse_category(raw: Any, weights: dict[str, float], where: str) -> Category:
    table = _table(raw, where)
    code = table.get("code")
    if isinstance(code, str):
        where = f"{where} ({code})"
    _check_keys(table, {"code", "名称", "level", "unit"}, _CATEGORY_KEYS, where)
    if code not in CATEGORY_CODES:
        raise ValueError(f"{where}: code must be one of {', '.join(CATEGORY_CODES)}, got {code!r}")
    name = _text(table["名称"], f"{where} 名称")
    level = table["level"]
    if level not in LEVELS:
        raise ValueError(f"{where}: level must be 'village' or 'town', got {level!r}")
    unit = _text(table["unit"], f"{where} unit")

    keywords: dict[str, float] = {}
    for tier in TIERS:
        entries = table.get(tier, [])
        if not isinstance(entries, list):
            raise ValueError(f"{where} {tier}: must be a list")
        for position, entry in enumerate(entries):
            spot = f"{where} {tier}[{position}]"
            if isinstance(entry, dict):
                _check_keys(entry, {"word", "weight"}, {"word", "weight"}, spot)
                word = _text(entry["word"], f"{spot} word")
                weight = _weight(entry["weight"], f"{spot} weight")
            else:
                word = _text(entry, spot)
                weight = weights[tier]
            if "…" in word and (word.startswith("…") or word.endswith("…") or "……" in word):
                raise ValueError(f"{spot}: '…' must stand between two parts, not in {word!r}")
            if word in keywords:
                raise ValueError(f"{spot}: word {word!r} is listed twice in this category")
            keywords[word] = weight
    return Category(
        code=str(code), name=name, keywords=tuple(keywords.items()), level=level, unit=unit
    )


def _parse_homophones(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    table = _table(raw, where)
    pairs: list[tuple[str, str]] = []
    for char, alternatives in table.items():
        if len(char) != 1:
            raise ValueError(f"{where}: key {char!r} must be a single character")
        text = _text(alternatives, f"{where} {char}")
        pairs.append((char, text))
    return tuple(pairs)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be a table")
    return value


def _check_keys(table: dict[str, Any], required: set[str], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    missing = sorted(required - set(table))
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: must be a non-empty string, got {value!r}")
    if value != value.strip():
        raise ValueError(f"{where}: {value!r} has leading or trailing spaces")
    return value


def _weight(value: Any, where: str) -> float:
    # bool is an int subclass; "true" as a weight is certainly a typo.
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{where}: weight must be a positive number, got {value!r}")
    return float(value)


def _word_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: must be a list of strings")
    words = tuple(_text(item, f"{where}[{index}]") for index, item in enumerate(value))
    for word in words:
        if words.count(word) > 1:
            raise ValueError(f"{where}: {word!r} is listed twice")
    return words
