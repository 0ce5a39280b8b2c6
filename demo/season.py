"""A season in the demo town, played through the webhook: the plan of it and its loop.

Everything happens the way it would with real phones: 邻长 follow the 公众号 and bind, report
problems in their own words, cadres answer on 企业微信, the dispatcher decides, reporters rate.
Each of those is a signed callback posted to the app (see demo/phones.py) on a simulated clock the
app reads as its `now`. The scheduled jobs run at simulated times, and the outbox is delivered to
the simulated phones, whose owners react to what they receive: a cadre signs for a ticket because
the 【新工单】 reached them, a reporter rates because the 办结 notice did. What each message did
(ticket numbers, states, whom a ticket went to) is read from the database (demo/witness.py).

Deterministic: one `random.Random(seed)` draws every choice in a fixed order, and actions run in
time order from one heap, so the same seed gives the same season and the same figures.
"""

from __future__ import annotations

import heapq
import random
import time as wall
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import click
from sqlalchemy import Engine, func
from sqlmodel import select

from bot.app import create_app
from bot.channels import Channels
from bot.scheduler import JobContext, JobSpec, Weekly, job_specs
from config.office import load_office
from config.settings import Settings
from demo import phrasebook as say
from demo.cadres import Cadres
from demo.clock import (
    CATEGORY_BASE,
    CATEGORY_SEASON,
    DAY,
    DEFAULT_JOB_HOURS,
    HOUR_WEIGHTS,
    JOB_HOURS,
    LOCAL,
    MONTHLY_PROBLEMS,
    ROLLOUT_DAYS,
    ROLLOUT_FROM,
    SEASON_START,
    SPRING_FESTIVAL,
    Clock,
    at_local,
    local_midnight,
)
from demo.people import Reporter, load_roster
from demo.phones import SCENARIO_CREDENTIALS, PhoneChannel, Webhook, deliver
from demo.reporters import Reporters
from demo.stage import Stage
from demo.witness import Witness
from models.db import read_session
from models.figures import Report, Scope, compute_report
from models.ticket import Ticket


@dataclass
class SeasonResult:
    """What a season did and the figures it ended with."""

    seed: int
    months: int
    start: date
    end: date
    seconds: float
    messages: Counter[str]
    delivered: int
    job_runs: Counter[str]
    states: Counter[str]
    surprises: Counter[str]
    report: Report


class Season:
    """A deterministic season: plans problems, plays every action in time order, reacts."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        seed: int,
        months: int,
        echo: Callable[[str], None] = click.echo,
    ) -> None:
        self.engine = engine
        self.settings = settings.model_copy(update=SCENARIO_CREDENTIALS)
        self.seed = seed
        self.months = months
        self.echo = echo
        self.rng = random.Random(seed)
        self.start = local_midnight(SEASON_START)
        last_month = SEASON_START.month - 1 + months
        self.end_day = date(SEASON_START.year + last_month // 12, last_month % 12 + 1, 1)
        self.end = local_midnight(self.end_day)
        self.clock = Clock(self.start)
        # The files the app and the jobs of the season use, read once for all of them.
        self.files = load_office(self.settings)
        self.calendar = self.files.calendar
        self.roster = load_roster(engine)
        app = create_app(self.settings, engine=engine, clock=self.clock, office=self.files)
        webhook = Webhook(app.test_client(), self.settings, self.clock, Witness(engine))
        self.stage = Stage(engine, self.files, self.roster, webhook, self.clock, self.rng)
        self.cadres = Cadres(self.stage)
        self.reporters = Reporters(self.stage, self.cadres)
        self.channels = Channels(console=PhoneChannel())
        self.delivered = 0
        self.job_runs: Counter[str] = Counter()

    # ------------------------------------------------------------ the loop

    def play(self) -> SeasonResult:
        """Plan the season, play it to its end and compute its figures."""
        started = wall.perf_counter()
        self.plan_rollout()
        self.plan_problems()
        self.plan_strangers()
        self.plan_jobs()
        queue, webhook = self.stage.queue, self.stage.webhook
        month = self.start.astimezone(LOCAL).month
        while queue and queue[0][0] < self.end:
            moment, _, action, args = heapq.heappop(queue)
            local_month = moment.astimezone(LOCAL).month
            if local_month != month:
                self.month_done(month)
                month = local_month
            # Time only moves on: an action whose person paused past the next one delays it.
            self.clock.now = max(moment, self.clock.now)
            action(*args)
            if webhook.may_notify:
                webhook.may_notify = False
                self.deliver()
        self.clock.now = self.end
        self.month_done(month)
        seconds = wall.perf_counter() - started
        return SeasonResult(
            seed=self.seed,
            months=self.months,
            start=SEASON_START,
            end=self.end_day - timedelta(days=1),
            seconds=seconds,
            messages=Counter(webhook.sent),
            delivered=self.delivered,
            job_runs=self.job_runs,
            states=self.ticket_states(),
            surprises=self.stage.surprises,
            report=self.figures(),
        )

    def month_done(self, month: int) -> None:
        """One line per simulated month."""
        line = say.MONTH_DONE.format(
            month=month,
            tickets=self.stage.tickets_seen,
            messages=sum(self.stage.webhook.sent.values()),
            delivered=self.delivered,
        )
        self.echo(line)

    def deliver(self) -> None:
        """Deliver the outbox to the phones and let their owners react."""
        received = deliver(self.engine, self.channels, self.clock.now)
        self.delivered += len(received)
        for message in received:
            if message.ticket_id is None:
                continue  # a digest: read, no action
            reporter = self.roster.by_person.get(message.person_id)
            if reporter is not None:
                self.reporters.reads(reporter, message.kind, message.ticket_id)
            elif message.person_id in self.roster.cadres:
                cadre = self.roster.cadres[message.person_id]
                self.cadres.reads(cadre, message.kind, message.ticket_id)

    # ------------------------------------------------------------ planning

    def plan_rollout(self) -> None:
        """The town trains one village a week; 邻长 who came with a smartphone bind there.

        The others bind when they first have a problem to report (their 组长 shows them how).
        """
        days = [
            SEASON_START + timedelta(days=i)
            for i in range(ROLLOUT_FROM, ROLLOUT_DAYS)
            if self.calendar.is_working_day(SEASON_START + timedelta(days=i))
        ]
        by_village: dict[str, list[Reporter]] = {}
        for reporter in self.roster.reporters:
            reporter.activity = self.rng.lognormvariate(0.0, 0.9)
            by_village.setdefault(reporter.village, []).append(reporter)
        order = sorted(by_village)
        self.rng.shuffle(order)
        for index, village in enumerate(order):
            day = days[(index * len(days)) // len(order)]
            session = at_local(day, *self.rng.choice(((9, 0), (14, 30))))
            for reporter in by_village[village]:
                if reporter.bound:
                    continue
                draw = self.rng.random()
                if draw < 0.62:
                    moment = session + timedelta(minutes=self.rng.uniform(5, 100))
                elif draw < 0.72:
                    # At home in the evening, with a son or daughter's help.
                    later = day + timedelta(days=self.rng.randrange(0, 6))
                    moment = at_local(later, self.rng.randrange(18, 22), self.rng.randrange(60))
                else:
                    if draw > 0.95:
                        reporter.activity *= 0.3  # no smartphone: writes only when it matters
                    continue
                self.stage.at(
                    moment, self.reporters.follow_and_bind, reporter, self.rng.random() < 0.04
                )

    def plan_problems(self) -> None:
        """Every problem of the season, on days and at hours people write."""
        reporters = self.roster.reporters
        weights = [r.activity for r in reporters]
        for month_index in range(self.months):
            year = SEASON_START.year + (SEASON_START.month - 1 + month_index) // 12
            month = (SEASON_START.month - 1 + month_index) % 12 + 1
            first = max(SEASON_START, date(year, month, 1))
            following = date(year + month // 12, month % 12 + 1, 1)
            days = [first + timedelta(days=i) for i in range((following - first).days)]
            day_weights = [self.day_weight(day) for day in days]
            count = MONTHLY_PROBLEMS[month - 1]
            codes = list(CATEGORY_BASE)
            category_weights = [
                CATEGORY_BASE[c] + CATEGORY_SEASON.get(month, {}).get(c, 0) for c in codes
            ]
            episodes = []
            for day in self.rng.choices(days, day_weights, k=count):
                hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
                moment = at_local(day, hour, self.rng.randrange(60), self.rng.randrange(60))
                reporter = self.rng.choices(reporters, weights)[0]
                category = self.rng.choices(codes, category_weights)[0]
                episodes.append(self.reporters.episode(moment, reporter, category))
            for episode in sorted(episodes, key=lambda e: e.at):
                self.stage.at(episode.at, self.reporters.report, episode)
                if episode.twin_of is None and self.rng.random() < 0.012:
                    twin = self.reporters.twin(episode)
                    if twin is not None:
                        self.stage.at(twin.at, self.reporters.report, twin)

    def day_weight(self, day: date) -> float:
        """People write less on days off, and least over 春节."""
        if SPRING_FESTIVAL[0] <= day <= SPRING_FESTIVAL[1]:
            return 0.35
        return 1.0 if self.calendar.is_working_day(day) else 0.75

    def plan_strangers(self) -> None:
        """Now and then someone not on the roster writes; the bot explains, nothing is created."""
        span = (self.end - self.start).days
        for index in range(max(1, span // 25)):
            moment = self.start + timedelta(days=self.rng.uniform(0, span))
            sender = f"oStranger{self.seed}x{index:03d}"
            self.stage.at(moment, self.reporters.stranger, sender)

    def plan_jobs(self) -> None:
        """Every scheduled job at simulated times (see JOB_HOURS), and 节前清零 before holidays."""
        specs = job_specs(self.files.sla)
        day = SEASON_START
        while day < self.end_day:
            working = self.calendar.is_working_day(day)
            for spec in specs:
                if isinstance(spec.schedule, Weekly):
                    weekly = spec.schedule.at
                    if day.weekday() == weekly.weekday:
                        self.stage.at(at_local(day, weekly.hour, weekly.minute), self.run_job, spec)
                    continue
                minute, hours, hours_off = JOB_HOURS.get(spec.name, DEFAULT_JOB_HOURS)
                for hour in hours if working else hours_off:
                    self.stage.at(at_local(day, hour, minute), self.run_job, spec)
            if working and not any(self.calendar.is_working_day(day + k * DAY) for k in (1, 2, 3)):
                self.stage.at(at_local(day, 14, 30), self.cadres.clear_desks, day)
            day += DAY

    # ------------------------------------------------------------ jobs

    def run_job(self, spec: JobSpec) -> None:
        """A job's body for the simulated moment, as `run_job` runs it once a slot is claimed."""
        context = JobContext(
            engine=self.engine,
            settings=self.settings,
            office=self.files,
            now=self.clock.now,
        )
        spec.body(context)
        self.job_runs[spec.name] += 1
        webhook = self.stage.webhook
        webhook.catch_up()  # what the job wrote is no message's doing
        # Whatever the job queued reaches the phones now (delivery finds nothing if it queued none).
        webhook.may_notify = True

    # ------------------------------------------------------------ the end

    def ticket_states(self) -> Counter[str]:
        """How many tickets are in each state at the end."""
        with read_session(self.engine) as session:
            rows = session.exec(select(Ticket.state, func.count()).group_by(Ticket.state)).all()
        return Counter({state: int(count) for state, count in rows})

    def figures(self) -> Report:
        """The town's figures for the season, as `grievance-bot report` computes them."""
        first = local_midnight(date(SEASON_START.year, SEASON_START.month, 1))
        scope = Scope(start=first, end=self.end, as_of=self.end)
        with read_session(self.engine) as session:
            return compute_report(session, scope, config=self.files.figures)
