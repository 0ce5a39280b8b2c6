"""The office's own files, read once per app or process and passed down from there.

An app, a worker, a scheduler and every CLI command build one OfficeConfig from *their* settings
(`load_office(settings)`), and hand it to the handlers (through their Context) and the jobs
(through their JobContext). Nothing below bot/ reads the process's settings or caches a file by
its path: two apps with two SLA files in one process each keep their own deadlines, and the
category names in chat, in the report, in the 台账 and in the weekly digest come from one taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.calendar import WorkCalendar, load_calendar
from config.figures import FiguresConfig, load_figures_config
from config.routing import RoutingRules, load_routing
from config.settings import Settings
from config.sla import SlaConfig, load_sla
from config.taxonomy import Taxonomy, load_taxonomy

# The name shown for a ticket without a category, or with a code the taxonomy does not know.
UNKNOWN_CATEGORY = "其他"


@dataclass(frozen=True, eq=False)
class OfficeConfig:
    """The SLA, working calendar, taxonomy, routing overrides and report settings of one office."""

    sla: SlaConfig
    calendar: WorkCalendar
    taxonomy: Taxonomy
    routing: RoutingRules
    figures: FiguresConfig

    def category_name(self, code: str | None) -> str:
        """A category's name in the office's taxonomy, for people to read."""
        if code and code in self.taxonomy.codes:
            return self.taxonomy.get(code).name
        return UNKNOWN_CATEGORY


def load_office(settings: Settings) -> OfficeConfig:
    """Read the files these settings name (the defaults in config/ where they name none)."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    return OfficeConfig(
        sla=load_sla(settings.sla_file),
        calendar=load_calendar(settings.holidays_file),
        taxonomy=taxonomy,
        routing=load_routing(settings.routing_file),
        figures=load_figures_config(taxonomy=taxonomy),
    )
