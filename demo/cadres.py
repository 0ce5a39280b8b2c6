"""How the town's office behaves on 企业微信: cadres sign, report progress, resolve, return,
transfer and ask for time; the dispatcher approves, rejects, assigns by hand, merges, marks invalid.

They act on the notifications their phones receive (a 【新工单】 makes a cadre plan to sign for it);
whether the bot took what they wrote they learn from the witness, never from the reply's words.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from demo import phrasebook as say
from demo.clock import BIG_JOBS, LOCAL, RESOLVE_OFFICE_HOURS, at_local
from demo.people import Cadre
from demo.stage import Plan, Stage
from demo.witness import Answer
from models.deadlines import deadlines_for


class Cadres:
    """Everyone who answers on 企业微信, played by one object on the shared stage."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    # ------------------------------------------------------------ reading notifications

    def reads(self, cadre: Cadre, kind: str, number: int) -> None:
        """Someone on 企业微信 reads a notification and plans what to do."""
        stage = self.stage
        if kind != "assigned" and number not in stage.plans:
            return  # a digest or an escalation about someone else's ticket: read, no action
        plan = stage.plan(number)
        rng, now, office = stage.rng, stage.clock.now, stage.office
        dispatcher = cadre.person_id == stage.roster.dispatcher.person_id
        mine = plan.assignee == cadre.person_id
        if kind == "assigned":
            self.assigned(plan, cadre)
        elif kind == "reopened" and mine:
            plan.stage, plan.reopened = "assigned", True
            plan.ack_due, plan.resolve_due = deadlines_for(
                plan.urgent, plan.category, now, sla=stage.sla, calendar=stage.calendar
            )
            plan.resolve_at = office.after(now, rng.lognormvariate(math.log(8), 0.6))
            stage.step(office.after(now, rng.uniform(0.3, 3)), plan, self.accept)
        elif kind in ("return_request", "extension_request") and dispatcher:
            later = office.after(now, rng.uniform(0.3, 3))
            stage.at(later, self.decide, plan, rng.random() < 0.9)
        elif kind == "extension_approved" and mine:
            plan.extension = "approved"
        elif kind == "extension_rejected" and mine:
            plan.extension = "rejected"
            plan.resolve_at = office.after(now, rng.uniform(2, 10))
            stage.step(plan.resolve_at, plan, self.resolve)
        elif kind == "return_rejected" and mine:
            plan.stage = "assigned"
            stage.step(office.after(now, rng.uniform(0.2, 2)), plan, self.accept)
        elif kind == "withdrawn" and mine:
            stage.gone(plan)
        elif kind.startswith("sla_overdue") and mine:
            self.hurry(plan, kind.endswith("_ack"), overdue=True)
        elif (
            kind.startswith("sla_remind")
            and mine
            and rng.random() < 0.6  # most take a reminder to heart; the rest run late
        ):
            self.hurry(plan, kind.endswith("_ack"), overdue=False)

    def assigned(self, plan: Plan, cadre: Cadre) -> None:
        """A 【新工单】: the new assignee plans to sign for it (or pass it on)."""
        stage = self.stage
        rng, now, roster = stage.rng, stage.clock.now, stage.roster
        facts = stage.witness.ticket(plan.number)
        plan.assignee = cadre.person_id
        plan.urgent = facts is not None and facts.urgent
        if facts is not None and facts.category:
            plan.category = facts.category
        plan.ack_due, plan.resolve_due = deadlines_for(
            plan.urgent, plan.category, now, sla=stage.sla, calendar=stage.calendar
        )
        if plan.stage == "gone":
            return
        plan.stage = "assigned"
        plan.resolve_at = None
        if cadre.person_id == roster.dispatcher.person_id:
            # A photo nobody described, released to the dispatcher: call the reporter, 派 it.
            village = facts.village if facts is not None else None
            later = stage.office.after(now, rng.uniform(0.5, 3))
            stage.step(later, plan, lambda p: self.send(p, village))
            return
        members = roster.unit_members.get(cadre.unit_id or -1, [])
        delegates = cadre.person_id in roster.unit_heads and members and not plan.transferred
        if delegates and rng.random() < 0.12:
            member = rng.choice(members)
            stage.step(
                now + timedelta(minutes=rng.uniform(10, 90)),
                plan,
                lambda p: self.transfer(p, member),
            )
            return
        if not plan.returned and not plan.reopened and rng.random() < 0.03:
            plan.returned = True
            stage.step(stage.office.after(now, rng.uniform(0.3, 3)), plan, self.give_back)
            return
        stage.step(self.ack_time(plan), plan, self.accept)

    # ------------------------------------------------------------ when they act

    def ack_time(self, plan: Plan) -> datetime:
        """When the assignee signs: within hours mostly, a few late enough to be escalated."""
        rng, now = self.stage.rng, self.stage.clock.now
        assert plan.ack_due is not None
        if plan.urgent:
            local = now.astimezone(LOCAL)
            if (local.hour >= 22 or local.hour < 7) and rng.random() < 0.4:
                morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
                return at_local(morning, 7, rng.randrange(60))
            if rng.random() < 0.04:
                return plan.ack_due + timedelta(minutes=rng.uniform(10, 150))
            minutes = min(rng.lognormvariate(math.log(30), 0.6), 110)
            return now + timedelta(minutes=minutes)
        if rng.random() < 0.05:
            return self.stage.office.after(plan.ack_due, rng.uniform(0.5, 8))
        moment = self.stage.office.after(now, rng.lognormvariate(math.log(1.2), 0.8))
        if moment >= plan.ack_due:
            moment = max(now, plan.ack_due - timedelta(minutes=rng.uniform(10, 90)))
        return moment

    def resolve_time(self, plan: Plan) -> datetime:
        """When the work is done: hours for urgent problems, working days for the rest."""
        rng, now = self.stage.rng, self.stage.clock.now
        assert plan.resolve_due is not None
        if plan.urgent:
            if rng.random() < 0.04:
                return plan.resolve_due + timedelta(hours=rng.uniform(1, 10))
            hours = min(rng.lognormvariate(math.log(5), 0.6), 22)
            return min(now + timedelta(hours=hours), plan.resolve_due - timedelta(minutes=20))
        category = plan.category or "other"
        draw = rng.random()
        if draw < 0.04:
            return self.stage.office.after(plan.resolve_due, rng.uniform(2, 14))
        if draw < 0.08 and category in BIG_JOBS and not plan.reopened:
            # Works that need materials, weather or the county: more time is asked for.
            plan.extension = "wanted"
            return self.stage.office.after(plan.resolve_due, rng.uniform(4, 30))
        median = RESOLVE_OFFICE_HOURS.get(category, 8)
        moment = self.stage.office.after(now, rng.lognormvariate(math.log(median), 0.8))
        if moment >= plan.resolve_due:
            moment = max(now, plan.resolve_due - timedelta(hours=rng.uniform(1, 20)))
        return moment

    def clear_desks(self, eve: date) -> None:
        """节前清零: on the last working day before a long holiday, what can be done is done."""
        rng, now = self.stage.rng, self.stage.clock.now
        closing = at_local(eve, 17, 20)
        for plan in self.stage.plans.values():
            if plan.stage != "accepted" or plan.extension in ("asked", "approved"):
                continue
            if plan.resolve_at is not None and plan.resolve_at > closing and rng.random() < 0.9:
                plan.resolve_at = now + (closing - now) * rng.random()
                self.stage.step(plan.resolve_at, plan, self.resolve)

    def hurry(self, plan: Plan, ack: bool, *, overdue: bool) -> None:
        """A reminder or an overdue notice makes the assignee act sooner."""
        rng, now = self.stage.rng, self.stage.clock.now
        if ack and plan.stage == "assigned":
            soon = self.stage.office.after(now, rng.uniform(0.2, 1.5 if overdue else 3))
            self.stage.step(soon, plan, self.accept)
        elif not ack and plan.stage == "accepted" and plan.extension not in ("asked", "approved"):
            soon = self.stage.office.after(now, rng.uniform(1, 8 if overdue else 12))
            if plan.resolve_at is None or plan.resolve_at > soon:
                plan.resolve_at = soon
                self.stage.step(soon, plan, self.resolve)

    # ------------------------------------------------------------ the assignee

    def says(self, plan: Plan, text: str) -> Answer:
        """The assignee's message on 企业微信."""
        assert plan.assignee is not None
        cadre = self.stage.roster.cadres[plan.assignee]
        return self.stage.webhook.text(cadre.userid, text, wecom=True)

    def accept(self, plan: Plan) -> None:
        """签收 N (or 接单), then plan the work."""
        stage, rng = self.stage, self.stage.rng
        verb = rng.choices(say.ACCEPT_FORMS, (70, 12, 10, 8))[0]
        answer = self.says(plan, verb.format(n=plan.number))
        if not answer.did(plan.number, "accepted"):
            stage.surprise("accept", answer)
            return
        plan.stage = "accepted"
        if plan.resolve_at is None or plan.resolve_at <= stage.clock.now:
            plan.resolve_at = self.resolve_time(plan)
        span = plan.resolve_at - stage.clock.now
        plan.notes_left = 0
        if span > timedelta(hours=20):
            plan.notes_left = rng.choices((0, 1, 2), (45, 40, 15))[0]
        self.next_step(plan)

    def next_step(self, plan: Plan) -> None:
        """Progress notes while the work goes on, an extension when it will run late, 办结."""
        stage = self.stage
        rng, now = stage.rng, stage.clock.now
        assert plan.resolve_at is not None
        if plan.extension == "wanted" and plan.resolve_due is not None:
            ask = max(now, stage.office.after(plan.resolve_due - timedelta(days=3), 1))
            if ask < plan.resolve_due:
                stage.step(ask, plan, self.extend)
                return
            plan.extension = None
        if plan.notes_left > 0:
            fraction = rng.uniform(0.2, 0.7)
            note_at = now + (plan.resolve_at - now) * fraction
            stage.step(note_at, plan, self.progress)
            return
        stage.step(plan.resolve_at, plan, self.resolve)

    def progress(self, plan: Plan) -> None:
        """进度 N 内容."""
        notes = say.PROGRESS_NOTES.get(plan.category or "other", say.PROGRESS_NOTES["other"])
        note = self.stage.rng.choice(notes)
        answer = self.says(plan, say.PROGRESS.format(n=plan.number, note=note))
        if not answer.did(plan.number, "progress"):
            self.stage.surprise("progress", answer)
        plan.notes_left -= 1
        self.next_step(plan)

    def extend(self, plan: Plan) -> None:
        """延期 N 天数 原因: the work needs longer than the limit."""
        stage, rng = self.stage, self.stage.rng
        days = rng.choice((3, 5, 5, 7, 10))
        reason = rng.choice(say.EXTENSION_REASONS)
        unit = rng.choice(say.EXTEND_UNITS)
        answer = self.says(
            plan, say.EXTEND.format(n=plan.number, days=days, unit=unit, reason=reason)
        )
        assert plan.resolve_due is not None and plan.resolve_at is not None
        if not answer.did(plan.number, "extension_requested"):
            stage.surprise("extension", answer)
            plan.extension = None
        else:
            plan.extension = "asked"
            # Done within the days asked for, whatever the dispatcher says.
            limit = stage.calendar.add_working_days(plan.resolve_due, days)
            if plan.resolve_at >= limit:
                plan.resolve_at = limit - timedelta(hours=rng.uniform(2, 30))
        stage.step(max(stage.clock.now, plan.resolve_at), plan, self.resolve)

    def resolve(self, plan: Plan) -> None:
        """办结 N 结果 (or 完成 N …); the reporter is then asked to rate."""
        rng = self.stage.rng
        if plan.stage == "assigned":
            self.accept_quietly(plan)
        if plan.episode is not None and plan.episode.problem[1]:
            result = plan.episode.problem[1]
        else:
            result = rng.choice(say.GENERIC_RESULTS)
        if plan.reopened:
            result = say.REDONE.format(result=result)
        verb = rng.choices(say.RESOLVE_VERBS, (85, 15))[0]
        answer = self.says(plan, say.RESOLVE.format(verb=verb, n=plan.number, result=result))
        if not answer.did(plan.number, "resolved"):
            self.stage.surprise("resolve", answer)
            return
        plan.stage = "resolved"
        plan.resolutions += 1
        plan.resolve_at = None

    def accept_quietly(self, plan: Plan) -> None:
        """Signs first when still unsigned (a reopened ticket is back to 已派单)."""
        answer = self.says(plan, say.ACCEPT.format(n=plan.number))
        if answer.did(plan.number, "accepted"):
            plan.stage = "accepted"

    def give_back(self, plan: Plan) -> None:
        """退回 N 原因: not ours; the dispatcher decides."""
        reason = self.stage.rng.choice(say.RETURN_REASONS)
        answer = self.says(plan, say.RETURN.format(n=plan.number, reason=reason))
        if answer.did(plan.number, "returned"):
            plan.stage = "returned"
        else:
            self.stage.surprise("return", answer)

    def transfer(self, plan: Plan, member: Cadre) -> None:
        """转办 N 姓名 to a colleague of the unit; by phone when the name did not do it."""
        plan.transferred = True
        answer = self.says(plan, say.TRANSFER.format(n=plan.number, who=member.name))
        if answer.changed_nothing:
            # Two people of that name: the bot needs the phone number.
            self.stage.pause(1, 4)
            answer = self.says(plan, say.TRANSFER.format(n=plan.number, who=member.phone))
        if not answer.did(plan.number, "transferred"):
            self.stage.surprise("transfer", answer)

    # ------------------------------------------------------------ the dispatcher

    def dispatcher_says(self, text: str) -> Answer:
        """The dispatcher's message on 企业微信."""
        return self.stage.webhook.text(self.stage.roster.dispatcher.userid, text, wecom=True)

    def decide(self, plan: Plan, approve: bool) -> None:
        """同意 N, or 驳回 N 原因, on a pending 退回 or 延期."""
        if plan.stage == "gone":
            return  # merged or marked invalid meanwhile: nothing left to decide
        if approve:
            answer = self.dispatcher_says(say.APPROVE.format(n=plan.number))
            done = answer.did(plan.number, "rerouted", "extension_approved")
        else:
            reason = self.stage.rng.choice(say.REJECT_REASONS)
            answer = self.dispatcher_says(say.REJECT.format(n=plan.number, reason=reason))
            done = answer.did(plan.number, "return_rejected", "extension_rejected")
        if not done:
            self.stage.surprise("decision", answer)

    def send(self, plan: Plan, village: str | None) -> None:
        """派 N 姓名: a released photo goes to the cadre of the village it came from."""
        roster = self.stage.roster
        cadre = roster.village_cadre.get(village or "")
        if cadre is None:
            cadre = next(iter(roster.village_cadre.values()))
        answer = self.dispatcher_says(say.SEND.format(n=plan.number, who=cadre.name))
        if answer.changed_nothing:
            # Two people of that name: the bot needs the phone number.
            self.stage.pause(1, 3)
            answer = self.dispatcher_says(say.SEND.format(n=plan.number, who=cadre.phone))
        if not answer.did(plan.number, "assigned"):
            self.stage.surprise("dispatch", answer)

    def merge(self, plan: Plan, target: int) -> None:
        """合并 N 目标: the same problem reported twice."""
        if plan.stage not in ("assigned", "accepted", "returned"):
            return
        answer = self.dispatcher_says(say.MERGE.format(n=plan.number, target=target))
        if answer.did(plan.number, "merged"):
            self.stage.gone(plan)
        else:
            self.stage.surprise("merge", answer)

    def invalidate(self, plan: Plan, reason: str) -> None:
        """无效 N 原因: not a problem for the town."""
        if plan.stage not in ("assigned", "accepted", "returned"):
            return
        answer = self.dispatcher_says(say.INVALID.format(n=plan.number, reason=reason))
        if answer.did(plan.number, "invalid"):
            self.stage.gone(plan)
        else:
            self.stage.surprise("invalid", answer)
