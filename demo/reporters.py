"""How the demo town's 邻长 behave: they bind, report in their own words, correct, ask and rate.

What they say comes from the phrasebook; whether the bot took it (a ticket made, a correction
recorded, a rating counted) they learn from the witness, as a person sees it on the phone.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from demo import phrasebook as say
from demo.cadres import Cadres
from demo.clock import LOCAL, at_local
from demo.people import Reporter
from demo.stage import Episode, Plan, Stage
from demo.witness import Answer


class Reporters:
    """The 邻长 of the season, all played by one object on the shared stage."""

    def __init__(self, stage: Stage, cadres: Cadres) -> None:
        self.stage = stage
        self.cadres = cadres

    # ------------------------------------------------------------ what they will say

    def episode(self, moment: datetime, reporter: Reporter, category: str) -> Episode:
        """What one reporter says about one problem, and how."""
        rng = self.stage.rng
        where, place_fix = self.where(reporter)
        if rng.random() < 0.004:
            words, reason = rng.choice(say.OUT_OF_SCOPE)
            return Episode(moment, reporter, "other", words, "text", where, invalid_reason=reason)
        urgent_ask = rng.random() < 0.06
        problem = rng.choice(say.PROBLEMS[category])
        text = self.compose(reporter, problem[0], where, urgent_ask)
        style = rng.choices(
            ("text", "photo_first", "photo_after", "voice", "voice_silent", "photo_only"),
            (64, 13, 9, 9, 4, 1),
        )[0]
        return Episode(
            moment,
            reporter,
            category,
            text,
            style,
            where,
            problem,
            greet=rng.random() < 0.05,
            urgent_ask=urgent_ask,
            place_fix=place_fix,
            withdraw_reason=rng.choice(say.WITHDRAW_REASONS) if rng.random() < 0.006 else None,
        )

    def where(self, reporter: Reporter) -> tuple[str, tuple[str, int] | None]:
        """How the reporter says where the problem is; a vague place is corrected afterwards."""
        rng, villages = self.stage.rng, self.stage.roster.villages
        group = reporter.group
        draw = rng.random()
        if draw < 0.84:
            spoken = rng.choice(say.OWN_GROUP)
            return spoken.format(cn=say.chinese_numeral(group), group=group), None
        groups = villages.get(reporter.village, 1)
        other = rng.randrange(1, groups + 1)
        if other == group:
            other = group % groups + 1
        if draw < 0.955:
            spoken = rng.choice(say.OTHER_GROUP)
            return spoken.format(cn=say.chinese_numeral(other), group=other), None
        if draw < 0.97:
            # A vague group names no number: the ticket lands on the reporter's own group, then 改.
            return say.VAGUE_GROUP, (reporter.village, other)
        village = rng.choice(sorted(villages))
        other = rng.randrange(1, villages[village] + 1)
        return say.VILLAGE_GROUP.format(village=village, group=other), None

    def compose(self, reporter: Reporter, problem: str, where: str, urgent_ask: bool) -> str:
        """Opener, problem, households, how long, and the ask, as 邻长 write them."""
        rng = self.stage.rng
        communal = "{at}" in problem
        opener = rng.choice(say.OPENERS).format(
            group_cn=say.chinese_numeral(reporter.group), name=reporter.name
        )
        parts = [opener, problem.format(at=where)]
        if communal and rng.random() < 0.25:
            parts.append(say.AFFECTED.format(households=rng.choice(say.HOUSEHOLDS)))
        if rng.random() < 0.3:
            parts.append(rng.choice(say.SINCE))
        if urgent_ask:
            parts.append(rng.choice(say.URGENT_ASKS))
        elif rng.random() < 0.5:
            parts.append(rng.choice(say.ASKS))
        return "".join(parts)

    def twin(self, original: Episode) -> Episode | None:
        """A neighbour in the same group reports the same problem a little later."""
        stage = self.stage
        key = (original.reporter.village, original.reporter.group)
        others = [r for r in stage.roster.groups.get(key, []) if r is not original.reporter]
        if not others or original.invalid_reason or original.style == "photo_only":
            return None
        reporter = stage.rng.choice(others)
        where = original.place_text
        return Episode(
            original.at + timedelta(minutes=stage.rng.uniform(40, 360)),
            reporter,
            original.category,
            self.compose(reporter, original.problem[0], where, False),
            "text",
            where,
            original.problem,
            twin_of=original,
        )

    # ------------------------------------------------------------ binding

    def says(self, reporter: Reporter, text: str, *, quiet: bool = False) -> Answer:
        """A text from the reporter's 公众号."""
        return self.stage.webhook.text(reporter.openid, text, quiet=quiet)

    def follow_and_bind(self, reporter: Reporter, typo: bool) -> None:
        """关注 the 公众号, then 绑定 姓名 手机号 (a mistyped phone first, sometimes)."""
        stage = self.stage
        if reporter.bound:
            return
        welcome = stage.webhook.send(reporter.openid, "event", quiet=True, Event="subscribe")
        if not welcome.changed_nothing:
            stage.surprise("subscribe", welcome)
        phone = reporter.phone
        if typo:
            wrong = phone[:-1] + str((int(phone[-1]) + 1) % 10)
            answer = self.says(
                reporter, say.BIND.format(name=reporter.name, phone=wrong), quiet=True
            )
            if stage.witness.bound_to(reporter.openid) is not None:
                stage.surprise("bind typo", answer)
            stage.clock.now += timedelta(seconds=stage.rng.randrange(40, 180))
        self.bind(reporter)

    def bind(self, reporter: Reporter) -> None:
        """绑定 姓名 手机号, written as people write it."""
        stage, phone = self.stage, reporter.phone
        form = stage.rng.choice(say.BIND_FORMS)
        spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        command = form.format(name=reporter.name, phone=phone, spaced=spaced)
        answer = self.says(reporter, command, quiet=True)
        if stage.witness.bound_to(reporter.openid) == reporter.person_id:
            reporter.bound = True
        else:
            stage.surprise("bind", answer)

    # ------------------------------------------------------------ reporting

    def report(self, episode: Episode) -> None:
        """A 邻长 writes about a problem: text, photos, voice, as the episode says."""
        stage, reporter, rng = self.stage, episode.reporter, self.stage.rng
        if not reporter.bound:
            # Unbound: some write the problem first and are told how to bind.
            if rng.random() < 0.5:
                answer = self.says(reporter, episode.text, quiet=True)
                if not answer.changed_nothing:
                    stage.surprise("unbound report", answer)
                stage.pause(1, 4)
            self.follow_and_bind(reporter, False)
            if not reporter.bound:
                return
            stage.pause(1, 3)
        if episode.greet:
            answer = self.says(reporter, rng.choice(say.GREETINGS), quiet=True)
            if not answer.changed_nothing:
                stage.surprise("greeting", answer)
            stage.pause(1, 3)
        style = episode.style
        if style in ("photo_first", "photo_only"):
            for _ in range(rng.choice((1, 1, 2, 3))):
                self.photo(reporter)
                stage.pause(0.2, 1)
            if style == "photo_only":
                return
            stage.pause(0.5, 3)
        if style == "voice_silent":
            self.voice(reporter, "")
            stage.pause(0.5, 2)
        if style == "voice":
            answer = self.voice(reporter, say.spoken(episode.text))
        else:
            answer = self.says(reporter, episode.text)
        number = answer.new_ticket()
        if number is None:
            # Not taken as a problem: say it again, plainly.
            stage.pause(2, 6)
            plain = say.PLAIN_PROBLEMS[episode.category].format(at=episode.place_text)
            answer = self.says(reporter, plain)
            number = answer.new_ticket()
            if number is None:
                stage.surprise("report", answer)
                return
        self.created(episode, number)
        if style == "photo_after":
            stage.pause(1, 5)
            answer = self.photo(reporter)
            if not answer.did(number, "attachment"):
                stage.surprise("photo after", answer)

    def photo(self, reporter: Reporter) -> Answer:
        """A photo from the phone's camera."""
        media = f"media-{next(self.stage.sequence)}"
        return self.stage.webhook.send(
            reporter.openid,
            "image",
            PicUrl=f"http://mmbiz.qpic.cn/demo/{media}.jpg",
            MediaId=media,
        )

    def voice(self, reporter: Reporter, recognition: str) -> Answer:
        """A voice note, with WeChat's recognition text when it gave one."""
        fields: dict[str, Any] = {"MediaId": f"voice-{next(self.stage.sequence)}", "Format": "amr"}
        if recognition:
            fields["Recognition"] = recognition
        return self.stage.webhook.send(reporter.openid, "voice", **fields)

    def created(self, episode: Episode, number: int) -> None:
        """A ticket was made: remember it and check what the bot understood."""
        stage = self.stage
        facts = stage.witness.ticket(number)
        assert facts is not None, f"ticket #{number} was just made"
        episode.number = number
        stage.tickets_seen += 1
        plan = stage.plan(number)
        plan.reporter, plan.episode, plan.category = episode.reporter, episode, episode.category
        rng, reporter, now = stage.rng, episode.reporter, stage.clock.now
        correction = None
        if facts.category != episode.category and episode.invalid_reason is None:
            if rng.random() < 0.75:
                name = stage.taxonomy.get(episode.category).name
                correction = say.CORRECT_CATEGORY.format(name=rng.choice((name, name[:2])))
        elif episode.place_fix is not None:
            village, group = episode.place_fix
            correction = say.CORRECT_PLACE.format(village=village, group=group)
        elif episode.urgent_ask and not facts.urgent:
            correction = say.CORRECT_URGENT
        elif facts.urgent and not episode.urgent_ask and rng.random() < 0.08:
            correction = say.CORRECT_NOT_URGENT
        if correction is not None:
            stage.at(now + timedelta(minutes=rng.uniform(1, 6)), self.correct, plan, correction)
        if episode.withdraw_reason is not None:
            later = now + timedelta(minutes=rng.uniform(20, 150))
            stage.at(later, self.withdraw, plan, episode.withdraw_reason)
        if episode.invalid_reason is not None:
            later = stage.office.after(now, rng.uniform(0.5, 4))
            stage.at(later, self.cadres.invalidate, plan, episode.invalid_reason)
        if episode.twin_of is not None and episode.twin_of.number is not None:
            later = stage.office.after(now, rng.uniform(0.3, 3))
            stage.at(later, self.cadres.merge, plan, episode.twin_of.number)
        if rng.random() < 0.03:
            later = now + timedelta(hours=rng.uniform(20, 60))
            stage.at(later, self.ask_status, reporter, number)

    def correct(self, plan: Plan, correction: str) -> None:
        """改 类别 … / 改 村 … / 改 紧急: what the bot understood was not what was meant."""
        assert plan.reporter is not None
        answer = self.says(plan.reporter, correction)
        if not answer.did(plan.number, "corrected"):
            self.stage.surprise("correction", answer)

    def withdraw(self, plan: Plan, reason: str) -> None:
        """撤回 #N: the problem went away by itself."""
        assert plan.reporter is not None
        if plan.stage not in ("assigned", "accepted"):
            return
        answer = self.says(plan.reporter, say.WITHDRAW.format(n=plan.number, reason=reason))
        if answer.did(plan.number, "withdrawn"):
            self.stage.gone(plan)
        else:
            self.stage.surprise("withdraw", answer)

    def ask_status(self, reporter: Reporter, number: int) -> None:
        """查询 N, or 我的: where things stand."""
        rng = self.stage.rng
        command = say.ASK_TICKET.format(n=number) if rng.random() < 0.7 else say.ASK_MINE
        answer = self.says(reporter, command, quiet=True)
        if not answer.changed_nothing:
            self.stage.surprise("query", answer)

    def stranger(self, sender: str) -> None:
        """Someone not on the roster: writes a problem, tries to bind with their own name, stops."""
        stage, rng = self.stage, self.stage.rng
        answer = stage.webhook.text(sender, rng.choice(say.STRANGER_TEXTS), quiet=True)
        if not answer.changed_nothing:
            stage.surprise("stranger", answer)
        stage.pause(1, 5)
        phone = f"13{rng.randrange(10**9):09d}"
        name = say.STRANGER_SURNAME + rng.choice(say.STRANGER_GIVEN)
        answer = stage.webhook.text(sender, say.BIND.format(name=name, phone=phone), quiet=True)
        if stage.witness.bound_to(sender) is not None:
            stage.surprise("stranger bind", answer)

    # ------------------------------------------------------------ 回访

    def reads(self, reporter: Reporter, kind: str, number: int) -> None:
        """A 邻长 reads a notification about a ticket."""
        plan = self.stage.plans.get(number)
        own = plan is not None and plan.reporter is reporter
        if kind == "resolved" and own:
            assert plan is not None
            reporter.awaiting.add(number)
            self.plan_rating(plan, asked_again=False)
        elif kind == "rating_reminder" and own:
            assert plan is not None
            if self.stage.rng.random() < 0.45:
                self.plan_rating(plan, asked_again=True)
        elif kind == "rating_closed":
            reporter.awaiting.discard(number)
            if plan is not None:
                plan.stage = "closed"

    def plan_rating(self, plan: Plan, *, asked_again: bool) -> None:
        """满意 / 基本满意 / 不满意, in a while, or never (the 回访 job then asks and closes)."""
        stage, rng = self.stage, self.stage.rng
        if not asked_again and rng.random() < 0.19:
            return  # silent: the follow-up job will ask again
        first = plan.resolutions <= 1 and not asked_again
        verb = rng.choices(say.RATINGS, (88, 9, 3) if first else (88, 12, 0))[0]
        later = stage.clock.now + timedelta(minutes=rng.lognormvariate(math.log(90), 1.0))
        local = later.astimezone(LOCAL)
        if local.hour >= 22 or local.hour < 7:
            morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
            later = at_local(morning, 7, rng.randrange(60)) + timedelta(minutes=rng.uniform(0, 90))
        stage.at(later, self.rate, plan, verb)

    def rate(self, plan: Plan, verb: str) -> None:
        """The reporter's rating, written with or without the number."""
        stage, reporter = self.stage, plan.reporter
        assert reporter is not None
        if plan.number not in reporter.awaiting:
            return  # closed as unrated meanwhile
        rng = stage.rng
        unsatisfied = verb == say.UNSATISFIED
        reason = f" {rng.choice(say.UNSATISFIED_REASONS)}" if unsatisfied else ""
        bare = not unsatisfied and rng.random() < 0.3
        command = (
            f"{verb}{rng.choice(say.RATING_ENDINGS)}"
            if bare
            else f"{verb}{rng.choice(say.RATING_SEPARATORS)}{plan.number}{reason}"
        )
        answer = self.says(reporter, command)
        if bare and answer.changed_nothing:
            # Several tickets wait for a rating: the bot needs the number.
            stage.pause(0.5, 2)
            answer = self.says(reporter, say.RATE.format(verb=verb, n=plan.number, reason=reason))
        if answer.did(plan.number, "rated"):
            reporter.awaiting.discard(plan.number)
            plan.stage = "closed"
            if rng.random() < 0.1:
                stage.pause(0.2, 2)
                thanks = self.says(reporter, rng.choice(say.THANKS), quiet=True)
                if not thanks.changed_nothing:
                    stage.surprise("thanks", thanks)
        elif answer.did(plan.number, "reopened"):
            reporter.awaiting.discard(plan.number)
            plan.stage = "assigned"
            plan.reopened = True
        else:
            stage.surprise("rating", answer)
