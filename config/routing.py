"""Routing overrides: this place's problems of this category go to that person."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROUTING_FILE = Path(__file__).with_name("routing.toml")


@dataclass(frozen=True)
class Override:
    """Tickets of `category` ("*": any) in `place` or below go to the person with phone `person`."""

    place: str
    category: str
    person: str


@dataclass(frozen=True)
class RoutingRules:
    overrides: tuple[Override, ...] = ()


def load_routing(path: Path | None = None) -> RoutingRules:
    """Read the routing file; a clear ValueError names a bad entry."""
    source = path or DEFAULT_ROUTING_FILE
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    overrides = []
    for index, raw in enumerate(data.get("overrides", []), start=1):
        if not isinstance(raw, dict) or not {"place", "category", "person"} <= raw.keys():
            raise ValueError(f"{source}: overrides #{index} needs place, category and person")
        overrides.append(Override(str(raw["place"]), str(raw["category"]), str(raw["person"])))
    return RoutingRules(tuple(overrides))
