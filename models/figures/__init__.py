"""The figures a township reports upward, for any period and any place subtree.

Everything is counted by aggregate queries in the database; no ticket is loaded into Python. One
pass groups the tickets in scope by (village, category[, assignee]) with conditional counts, and the
overall figures and every breakdown are sums of those few thousand group rows. What does not add
up — distinct reporters and the median time to resolve — has its own query: reporters from the
distinct (village, reporter) pairs, medians by `percentile_cont` on PostgreSQL and by an ordered
walk of an index per group on SQLite (ORDER BY … LIMIT 2 OFFSET n/2).

Definitions (the figures file repeats them for the people who read the report):

- collected: tickets created in [start, end), not draft, invalid or duplicate; in the place's
  subtree (ticket.place_path starts with place.path).
- resolved: of those, state resolved or closed. A reopened ticket is back in an open state until
  it is resolved again; a ticket auto-closed without a rating (rating "unrated") is resolved.
- 解决率 resolved ÷ collected. 按时办结率 resolved with resolved_at ≤ resolve_due_at ÷ resolved.
- 响应率 acknowledged (accepted_at set) with accepted_at ≤ ack_due_at ÷ tickets acknowledged or
  whose ack_due_at ≤ as_of: a ticket neither acknowledged nor yet due is not judged.
- 满意率 (satisfied + basic) ÷ every 回访 answer: the final 满意/基本满意 of each ticket plus every
  不满意 ever given (each one reopened the ticket, so reopen_count counts them); unrated closes are
  not answers.
- 重办率 tickets reopened at least once ÷ tickets resolved at least once (resolved now, or
  reopened): the share of answers the reporter sent back.
- 退单率 tickets with at least one 退单 ÷ tickets ever assigned (assigned_at set). A 退单 is a
  return (退回) the dispatcher approved: one refused (驳回) or still undecided is not counted.
- overdue: open tickets (OPEN_STATES) whose resolve_due_at < as_of.
- median hours to resolve: resolved_at - created_at over the resolved tickets.
- 参与率 distinct reporters ÷ active 邻长 on the roster in the subtree (place breakdowns only).
- score: the rates' weighted mean * 100, weights from config/figures.toml; 重办率 and 退单率 count
  as (1 - rate); a rate without data (denominator 0) is left out of the mean.

States are the tickets' current ones; `as_of` (the end of the period, or now when that is
earlier) only decides which deadlines have passed.

One module per job: `scope` (what is counted), `counts` (Figures, Report), `columns` and
`queries` (the SQL), `sqlite` (SQLite's median walks), `places` (names, order, 邻长),
`report` (compute_report), `beside` (PostgreSQL's medians on a second connection), `headline`
(the sentence and percentages), `ledger` (the 台账's rows).
"""

from models.figures.columns import PERSON, PERSON_ROLE, PLACE, TICKET
from models.figures.counts import COUNT_NAMES, Figures, Report
from models.figures.headline import format_percent, headline, headline_fields
from models.figures.queries import ledger_filter, scope_filter
from models.figures.report import breakdown, compute_figures, compute_report
from models.figures.scope import (
    BREAKDOWN_KEYS,
    NOT_COLLECTED,
    PLACE_KEYS,
    RATED,
    RESOLVED_STATES,
    SATISFIED,
    SHANGHAI,
    BreakdownKey,
    Scope,
    period_scope,
)
from models.figures.sqlite import SQLITE_RESOLVE_DAYS, SQLITE_RESOLVED_STATES

__all__ = [
    "BREAKDOWN_KEYS",
    "COUNT_NAMES",
    "NOT_COLLECTED",
    "PERSON",
    "PERSON_ROLE",
    "PLACE",
    "PLACE_KEYS",
    "RATED",
    "RESOLVED_STATES",
    "SATISFIED",
    "SHANGHAI",
    "SQLITE_RESOLVED_STATES",
    "SQLITE_RESOLVE_DAYS",
    "TICKET",
    "BreakdownKey",
    "Figures",
    "Report",
    "Scope",
    "breakdown",
    "compute_figures",
    "compute_report",
    "format_percent",
    "headline",
    "headline_fields",
    "ledger_filter",
    "period_scope",
    "scope_filter",
]
