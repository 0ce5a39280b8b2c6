"""Every ticket action called directly, as the web will: results, refusals, events, outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config.office import OfficeConfig, load_office
from config.settings import Settings
from handlers.notify import ChatNotifier
from models import actions
from models.actions import Actor, Correction, Desk, Reason, Refusal
from models.outbox import OutboxMessage
from models.person import Person, PersonRole, Role
from models.place import Place
from models.routing import RouteChoice
from models.ticket import Attachment, Rating, Ticket, TicketEvent, TicketRequest, TicketState
from models.tickets import locate, new_ticket
from tests.town import SmallTown, build_small_town

S = TicketState


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


@pytest.fixture
def office(settings: Settings) -> OfficeConfig:
    return load_office(settings)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def desk(db: Session, office: OfficeConfig, now: datetime) -> Desk:
    return Desk(db, now, office, ChatNotifier(db, now, office))


class World:
    """The small town's people as actors, and tickets made to order."""

    def __init__(self, db: Session, desk: Desk, town: SmallTown) -> None:
        self.db, self.desk, self.town = db, desk, town

    def person(self, key: str) -> Person:
        person = self.db.get(Person, self.town.people[key].id)
        assert person is not None
        return person

    def actor(self, key: str) -> Actor:
        return Actor.of(self.db, self.person(key), via="web")

    def ticket(
        self,
        *,
        reporter: str = "reporter",
        village: str = "张家村",
        assignee: str | None = "cadre:张家村",
        category: str = "environment",
    ) -> Ticket:
        """A routed ticket, assigned (or only submitted, without an assignee)."""
        person = self.person(reporter)
        ticket = new_ticket(
            self.db,
            reporter=person,
            channel="wechat",
            sender=person.wechat_openid or "",
            text="3组垃圾没人清",
            now=self.desk.now,
        )
        ticket.category, ticket.summary = category, "垃圾没人清"
        locate(self.db, ticket, self.db.get(Place, self.town.villages[village]), 3)
        if assignee is not None:
            choice = RouteChoice(self.person(assignee), "village_cadre:test")
            actions.assign(self.desk, ticket, choice, actor_id=None)
        self.db.flush()
        return ticket

    def ticket_in(self, state: TicketState, **kwargs: str) -> Ticket:
        """A ticket taken to `state` by the actions themselves."""
        ticket = self.ticket(**kwargs)
        assert ticket.id is not None
        cadre, dispatcher = self.actor("cadre:张家村"), self.actor("dispatcher")
        if state in (S.accepted, S.resolved, S.closed):
            actions.accept(self.desk, cadre, ticket.id)
        if state is S.in_progress:
            actions.progress(self.desk, cadre, ticket.id, "已联系")
        if state in (S.resolved, S.closed):
            actions.resolve(self.desk, cadre, ticket.id, "已清运")
        if state is S.closed:
            actions.rate(self.desk, self.actor("reporter"), ticket.id, Rating.satisfied)
        if state is S.returned:
            actions.return_(self.desk, cadre, ticket.id, "不属于本村")
        if state is S.invalid:
            actions.invalidate(self.desk, dispatcher, ticket.id, "重复发送")
        self.db.flush()
        assert ticket.state == state.value
        return ticket

    def outbox(self, since: int = 0) -> list[tuple[str, int | None]]:
        """(kind, person) of the outbox rows after id `since`."""
        rows = self.db.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id) > since)
            .order_by(col(OutboxMessage.id))
        )
        return [(m.kind, m.person_id) for m in rows]

    def last_outbox_id(self) -> int:
        self.db.flush()
        rows = list(self.db.exec(select(OutboxMessage.id)))
        return max((r for r in rows if r is not None), default=0)

    def events(self, ticket: Ticket) -> list[tuple[str, str]]:
        rows = self.db.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(col(TicketEvent.id))
        )
        return [(e.kind, e.note) for e in rows]

    def kinds(self, ticket: Ticket) -> list[str]:
        return [kind for kind, _ in self.events(ticket)]

    def requests(self, ticket: Ticket) -> list[tuple[str, str]]:
        rows = self.db.exec(
            select(TicketRequest)
            .where(TicketRequest.ticket_id == ticket.id)
            .order_by(col(TicketRequest.id))
        )
        return [(r.kind, r.status) for r in rows]


@pytest.fixture
def w(db: Session, desk: Desk, town: SmallTown) -> World:
    return World(db, desk, town)


def refused(reason: Reason, call: object, *args: object, **kwargs: object) -> Refusal:
    """The refusal `call(*args)` raises, checked to carry `reason`."""
    assert callable(call)
    with pytest.raises(Refusal) as caught:
        call(*args, **kwargs)
    assert caught.value.reason is reason, caught.value.detail
    return caught.value


def tid(ticket: Ticket) -> int:
    assert ticket.id is not None
    return ticket.id


# --------------------------------------------------------------------------------- accept


def test_accept_acknowledges_and_tells_the_reporter(w: World) -> None:
    t = w.ticket()
    before = w.last_outbox_id()
    done = actions.accept(w.desk, w.actor("cadre:张家村"), tid(t))
    assert done.ticket is t and t.state == S.accepted.value
    assert t.accepted_at == w.desk.now and t.last_accepted_at == w.desk.now
    assert w.kinds(t)[-1] == "accepted"
    assert w.outbox(before) == [("accepted", w.person("reporter").id)]


def test_accept_refusals(w: World) -> None:
    t = w.ticket()
    refused(Reason.not_allowed, actions.accept, w.desk, w.actor("reporter"), tid(t))
    # A cadre of another village, and a ticket that does not exist, are both "not found".
    other = refused(Reason.not_found, actions.accept, w.desk, w.actor("cadre:李家村"), tid(t))
    assert other.ticket == tid(t)
    refused(Reason.not_found, actions.accept, w.desk, w.actor("cadre:张家村"), 9999)
    actions.accept(w.desk, w.actor("cadre:张家村"), tid(t))
    again = refused(Reason.wrong_state, actions.accept, w.desk, w.actor("cadre:张家村"), tid(t))
    assert again.detail == {"state": "accepted"}
    assert w.kinds(t).count("accepted") == 1


# ------------------------------------------------------------------------------- progress


def test_progress_acknowledges_first_and_passes_the_note_on(w: World) -> None:
    t = w.ticket()
    before = w.last_outbox_id()
    actions.progress(w.desk, w.actor("cadre:张家村"), tid(t), "已联系清运队")
    assert t.state == S.in_progress.value
    assert w.events(t)[-2:] == [("accepted", ""), ("progress", "已联系清运队")]
    assert w.outbox(before) == [("progress", w.person("reporter").id)]


def test_progress_refusals(w: World) -> None:
    t = w.ticket()
    cadre = w.actor("cadre:张家村")
    refused(Reason.not_allowed, actions.progress, w.desk, w.actor("reporter"), tid(t), "x")
    refused(Reason.needs_text, actions.progress, w.desk, cadre, tid(t), "  ")
    closed = w.ticket_in(S.resolved)
    refused(Reason.wrong_state, actions.progress, w.desk, cadre, tid(closed), "再看看")
    assert t.state == S.assigned.value


# -------------------------------------------------------------------------------- resolve


def test_resolve_keeps_the_result_and_photos_and_asks_for_a_rating(w: World) -> None:
    t = w.ticket_in(S.returned)  # a pending 退回 is cancelled by the resolution
    actions.reject(w.desk, w.actor("dispatcher"), tid(t), "属于本村")
    actions.extend(w.desk, w.actor("cadre:张家村"), tid(t), 2, "等车")
    before = w.last_outbox_id()
    photo = Attachment(ticket_id=0, kind="image", channel="web", url="https://x/fix.jpg")
    actions.resolve(w.desk, w.actor("cadre:张家村"), tid(t), "已清运", photos=[photo])
    assert t.state == S.resolved.value and t.result == "已清运"
    assert t.rating_asked_at == w.desk.now and t.rating is None
    assert w.kinds(t)[-2:] == ["attachment", "resolved"]
    stored = w.db.exec(select(Attachment).where(Attachment.ticket_id == t.id)).all()
    assert [a.url for a in stored] == ["https://x/fix.jpg"]
    assert w.requests(t) == [("return", "rejected"), ("extension", "cancelled")]
    assert w.outbox(before) == [("resolved", w.person("reporter").id)]


def test_resolve_tells_merged_reporters_without_asking_them_to_rate(w: World) -> None:
    t = w.ticket()
    dup = w.ticket(reporter="reporter2")
    actions.merge(w.desk, w.actor("dispatcher"), tid(dup), tid(t))
    before = w.last_outbox_id()
    actions.resolve(w.desk, w.actor("cadre:张家村"), tid(t), "已清运")
    reporter, other = w.person("reporter").id, w.person("reporter2").id
    assert w.outbox(before) == [("resolved", reporter), ("resolved", other)]
    texts = w.db.exec(
        select(OutboxMessage.text).where(col(OutboxMessage.id) > before).order_by(OutboxMessage.id)
    ).all()
    assert "请评价" in texts[0] and "请评价" not in texts[1]


def test_resolve_refusals(w: World) -> None:
    t = w.ticket()
    cadre = w.actor("cadre:张家村")
    refused(Reason.not_allowed, actions.resolve, w.desk, w.actor("reporter"), tid(t), "好了")
    refused(Reason.not_found, actions.resolve, w.desk, w.actor("cadre:李家村"), tid(t), "好了")
    refused(Reason.needs_text, actions.resolve, w.desk, cadre, tid(t), "")
    done = w.ticket_in(S.resolved)
    refused(Reason.wrong_state, actions.resolve, w.desk, cadre, tid(done), "又好了")


# -------------------------------------------------------------------------------- return_


def test_return_asks_the_dispatcher_and_tells_the_reporter(w: World) -> None:
    t = w.ticket()
    before = w.last_outbox_id()
    actions.return_(w.desk, w.actor("cadre:张家村"), tid(t), "不属于本村")
    assert t.state == S.returned.value and t.return_count == 0  # counted only when approved
    assert w.events(t)[-1] == ("returned", "不属于本村")
    assert w.requests(t) == [("return", "pending")]
    assert w.outbox(before) == [
        ("return_request", w.person("dispatcher").id),
        ("returned", w.person("reporter").id),
    ]


def test_return_refusals(w: World) -> None:
    t = w.ticket()
    cadre = w.actor("cadre:张家村")
    refused(Reason.not_allowed, actions.return_, w.desk, w.actor("reporter"), tid(t), "x")
    refused(Reason.needs_text, actions.return_, w.desk, cadre, tid(t), "")
    actions.return_(w.desk, cadre, tid(t), "不属于本村")
    refused(Reason.wrong_state, actions.return_, w.desk, cadre, tid(t), "再退")
    assert w.requests(t) == [("return", "pending")]


# ------------------------------------------------------------------------------- transfer


def test_transfer_by_name_or_id_tells_the_colleague_and_the_reporter(w: World) -> None:
    t = w.ticket()
    colleague = w.person("colleague")
    before = w.last_outbox_id()
    done = actions.transfer(w.desk, w.actor("cadre:张家村"), tid(t), colleague.name, note="他管")
    assert done.person is not None and done.person.id == colleague.id
    assert t.assignee_id == colleague.id and t.route == "transfer:张支书"
    assert w.events(t)[-1] == ("transferred", f"他管 → {colleague.name}｜transfer:张支书")
    assert w.outbox(before) == [
        ("assigned", colleague.id),
        ("reassigned", w.person("reporter").id),
    ]
    cadre_id = w.person("cadre:张家村").id
    assert cadre_id is not None
    back = actions.transfer(w.desk, w.actor("colleague"), tid(t), cadre_id)
    assert back.person is not None and t.assignee_id == cadre_id


def test_transfer_refusals(w: World) -> None:
    t = w.ticket()
    cadre = w.actor("cadre:张家村")
    refused(Reason.not_allowed, actions.transfer, w.desk, w.actor("reporter"), tid(t), "周干部")
    unknown = refused(Reason.unknown_person, actions.transfer, w.desk, cadre, tid(t), "无名氏")
    assert unknown.detail == {"name": "无名氏"}
    reporter_id = w.person("reporter").id
    assert reporter_id is not None  # a 邻长 is no handler
    refused(Reason.unknown_person, actions.transfer, w.desk, cadre, tid(t), reporter_id)
    for phone in ("17100000001", "17100000002"):
        twin = Person(name="周干部", phone=phone, place_id=w.person("colleague").place_id)
        w.db.add(twin)
        w.db.flush()
        w.db.add(PersonRole(person_id=twin.id, role=Role.unit_member.value))  # type: ignore[arg-type]
    w.db.flush()
    twins = refused(Reason.ambiguous_person, actions.transfer, w.desk, cadre, tid(t), "周干部")
    assert twins.detail["name"] == "周干部" and len(twins.detail["phones"]) == 3
    done = w.ticket_in(S.resolved)
    refused(Reason.wrong_state, actions.transfer, w.desk, cadre, tid(done), "无名氏")
    assert t.assignee_id == w.person("cadre:张家村").id


# --------------------------------------------------------------------------------- extend


def test_extend_files_a_request_for_the_dispatcher(w: World) -> None:
    t = w.ticket()
    before = w.last_outbox_id()
    done = actions.extend(w.desk, w.actor("cadre:张家村"), tid(t), 3, "等材料")
    assert done.days == 3
    assert w.events(t)[-1] == ("extension_requested", "3个工作日：等材料")
    assert w.requests(t) == [("extension", "pending")]
    assert w.outbox(before) == [("extension_request", w.person("dispatcher").id)]


def test_extend_refusals(w: World, desk: Desk) -> None:
    t = w.ticket()
    cadre = w.actor("cadre:张家村")
    refused(Reason.not_allowed, actions.extend, w.desk, w.actor("reporter"), tid(t), 3, "x")
    refused(Reason.needs_text, actions.extend, w.desk, cadre, tid(t), None, "等材料")
    refused(Reason.needs_text, actions.extend, w.desk, cadre, tid(t), 0, "等材料")
    refused(Reason.needs_text, actions.extend, w.desk, cadre, tid(t), 3, " ")
    longest = desk.office.sla.extension_max_working_days
    too_long = refused(Reason.too_long, actions.extend, w.desk, cadre, tid(t), longest + 1, "久")
    assert too_long.detail == {"max": longest}
    actions.extend(w.desk, cadre, tid(t), 3, "等材料")
    refused(Reason.pending_request, actions.extend, w.desk, cadre, tid(t), 2, "再等")
    done = w.ticket_in(S.resolved)
    refused(Reason.wrong_state, actions.extend, w.desk, cadre, tid(done), 2, "再等")
    assert w.requests(t) == [("extension", "pending")]


# -------------------------------------------------------------------------------- send_to


def test_send_to_reassigns_approves_a_return_and_tells_everyone(w: World) -> None:
    t = w.ticket_in(S.returned)
    colleague = w.person("colleague")
    before = w.last_outbox_id()
    done = actions.send_to(w.desk, w.actor("dispatcher"), tid(t), colleague.name)
    assert done.person is not None and t.assignee_id == colleague.id
    assert t.state == S.assigned.value and t.return_count == 1
    assert w.requests(t) == [("return", "approved")]
    assert w.outbox(before) == [
        ("assigned", colleague.id),
        ("taken_off", w.person("cadre:张家村").id),
        ("reassigned", w.person("reporter").id),
    ]


def test_send_to_an_unassigned_ticket_tells_only_the_new_assignee(w: World) -> None:
    t = w.ticket(assignee=None)
    before = w.last_outbox_id()
    actions.send_to(w.desk, w.actor("dispatcher"), tid(t), "周干部")
    assert w.outbox(before) == [("assigned", w.person("colleague").id)]
    assert w.events(t)[-1] == ("assigned", "周干部｜dispatcher:赵调度")


def test_send_to_refusals(w: World) -> None:
    t = w.ticket()
    dispatcher = w.actor("dispatcher")
    refused(Reason.not_allowed, actions.send_to, w.desk, w.actor("cadre:张家村"), tid(t), "周干部")
    refused(Reason.not_found, actions.send_to, w.desk, dispatcher, 9999, "周干部")
    refused(Reason.unknown_person, actions.send_to, w.desk, dispatcher, tid(t), "")
    void = w.ticket_in(S.invalid)
    refused(Reason.wrong_state, actions.send_to, w.desk, dispatcher, tid(void), "周干部")


# -------------------------------------------------------------------------------- approve


def test_approve_a_return_reroutes_away_from_whoever_returned_it(w: World) -> None:
    t = w.ticket_in(S.returned)
    before = w.last_outbox_id()
    done = actions.approve(w.desk, w.actor("dispatcher"), tid(t))
    assert done.request == "return" and done.person is not None
    assert done.person.id != w.person("cadre:张家村").id and t.assignee_id == done.person.id
    assert done.route and t.return_count == 1 and t.state == S.assigned.value
    assert w.kinds(t)[-1] == "rerouted" and w.events(t)[-1][1].startswith("同意退回 → ")
    assert w.outbox(before) == [
        ("assigned", done.person.id),
        ("reassigned", w.person("reporter").id),
    ]


def test_approve_an_extension_moves_the_deadline(w: World) -> None:
    t = w.ticket()
    old_due = t.resolve_due_at
    assert old_due is not None
    actions.extend(w.desk, w.actor("cadre:张家村"), tid(t), 3, "等材料")
    before = w.last_outbox_id()
    done = actions.approve(w.desk, w.actor("dispatcher"), tid(t))
    assert done.request == "extension" and done.due is not None and done.due > old_due
    assert t.resolve_due_at == done.due
    kind, note = w.events(t)[-1]
    assert kind == "extension_approved" and note.startswith("3个工作日，新期限")
    assert w.requests(t) == [("extension", "approved")]
    assert w.outbox(before) == [("extension_approved", w.person("cadre:张家村").id)]


def test_approve_refusals(w: World) -> None:
    t = w.ticket()
    refused(Reason.not_allowed, actions.approve, w.desk, w.actor("cadre:张家村"), tid(t))
    refused(Reason.no_pending_request, actions.approve, w.desk, w.actor("dispatcher"), tid(t))


# --------------------------------------------------------------------------------- reject


def test_reject_a_return_gives_the_ticket_back(w: World) -> None:
    t = w.ticket_in(S.returned)
    before = w.last_outbox_id()
    done = actions.reject(w.desk, w.actor("dispatcher"), tid(t), "属于本村")
    assert done.request == "return" and t.state == S.assigned.value and t.return_count == 0
    assert w.events(t)[-1] == ("return_rejected", "属于本村")
    assert w.requests(t) == [("return", "rejected")]
    assert w.outbox(before) == [("return_rejected", w.person("cadre:张家村").id)]


def test_reject_an_extension_keeps_the_deadline(w: World) -> None:
    t = w.ticket()
    due = t.resolve_due_at
    actions.extend(w.desk, w.actor("cadre:张家村"), tid(t), 3, "等材料")
    done = actions.reject(w.desk, w.actor("dispatcher"), tid(t), "抓紧办")
    assert done.request == "extension" and t.resolve_due_at == due
    assert w.events(t)[-1] == ("extension_rejected", "抓紧办")


def test_reject_refusals(w: World) -> None:
    t = w.ticket()
    dispatcher = w.actor("dispatcher")
    refused(Reason.not_allowed, actions.reject, w.desk, w.actor("cadre:张家村"), tid(t), "x")
    refused(Reason.needs_text, actions.reject, w.desk, dispatcher, tid(t), "")
    refused(Reason.no_pending_request, actions.reject, w.desk, dispatcher, tid(t), "不行")


# ---------------------------------------------------------------------------------- merge


def test_merge_makes_a_duplicate_whose_followers_move_along(w: World) -> None:
    target = w.ticket()
    dup = w.ticket(reporter="reporter2", village="李家村", assignee="cadre:李家村")
    earlier = w.ticket(reporter="stranger", assignee=None)
    dispatcher = w.actor("dispatcher")
    actions.merge(w.desk, dispatcher, tid(earlier), tid(dup))
    before = w.last_outbox_id()
    done = actions.merge(w.desk, dispatcher, tid(dup), tid(target))
    assert done.into is target and dup.state == S.duplicate.value
    assert dup.duplicate_of_id == target.id and earlier.duplicate_of_id == target.id
    assert w.events(dup)[-1] == ("merged", f"并入 #{target.id}")
    assert w.events(target)[-1] == ("merged", f"#{dup.id} 并入")
    assert w.outbox(before) == [
        ("merged", w.person("reporter2").id),
        ("taken_off", w.person("cadre:李家村").id),
    ]


def test_merge_refusals(w: World) -> None:
    t, other = w.ticket(), w.ticket()
    dispatcher = w.actor("dispatcher")
    refused(Reason.not_allowed, actions.merge, w.desk, w.actor("cadre:张家村"), tid(t), tid(other))
    assert refused(Reason.not_found, actions.merge, w.desk, dispatcher, tid(t), None).ticket is None
    refused(Reason.not_found, actions.merge, w.desk, dispatcher, tid(t), tid(t))
    refused(Reason.not_found, actions.merge, w.desk, dispatcher, tid(t), 9999)
    void = w.ticket_in(S.invalid)
    bad = refused(Reason.bad_target, actions.merge, w.desk, dispatcher, tid(t), tid(void))
    assert bad.ticket == tid(void) and bad.detail == {"state": "invalid"}
    refused(Reason.wrong_state, actions.merge, w.desk, dispatcher, tid(void), tid(t))
    assert t.state == S.assigned.value


# ----------------------------------------------------------------------------- invalidate


def test_invalidate_closes_and_tells_reporter_and_assignee(w: World) -> None:
    t = w.ticket_in(S.returned)
    before = w.last_outbox_id()
    actions.invalidate(w.desk, w.actor("dispatcher"), tid(t), "重复发送")
    assert t.state == S.invalid.value and t.closed_at == w.desk.now
    assert w.events(t)[-1] == ("invalid", "重复发送")
    assert w.requests(t) == [("return", "cancelled")]
    assert w.outbox(before) == [
        ("invalid", w.person("reporter").id),
        ("taken_off", w.person("cadre:张家村").id),
    ]


def test_invalidate_refusals(w: World) -> None:
    t = w.ticket()
    dispatcher = w.actor("dispatcher")
    refused(Reason.not_allowed, actions.invalidate, w.desk, w.actor("cadre:张家村"), tid(t), "x")
    refused(Reason.needs_text, actions.invalidate, w.desk, dispatcher, tid(t), "")
    closed = w.ticket_in(S.closed)
    refused(Reason.wrong_state, actions.invalidate, w.desk, dispatcher, tid(closed), "重复")


# ----------------------------------------------------------------------------------- rate


def test_rate_satisfied_closes_the_ticket(w: World) -> None:
    t = w.ticket_in(S.resolved)
    before = w.last_outbox_id()
    done = actions.rate(w.desk, w.actor("reporter"), None, Rating.basic)
    assert done.ticket is t and not done.reopened
    assert t.state == S.closed.value and t.rating == Rating.basic.value
    assert w.events(t)[-1] == ("rated", "基本满意")
    assert w.outbox(before) == []


def test_rate_unsatisfied_reopens_with_the_same_assignee(w: World) -> None:
    t = w.ticket_in(S.resolved)
    before = w.last_outbox_id()
    done = actions.rate(w.desk, w.actor("reporter"), tid(t), Rating.unsatisfied, "还是脏")
    assert done.reopened and t.state == S.assigned.value and t.reopen_count == 1
    assert w.events(t)[-2:] == [("reopened", "还是脏"), ("reassigned", "重办，仍由原承办人办理")]
    assert w.outbox(before) == [("reopened", w.person("cadre:张家村").id)]


def test_rate_refusals(w: World) -> None:
    reporter = w.actor("reporter")
    refused(Reason.nothing_to_rate, actions.rate, w.desk, reporter, None, Rating.satisfied)
    first, _second = w.ticket_in(S.resolved), w.ticket_in(S.resolved)
    which = refused(Reason.which_ticket, actions.rate, w.desk, reporter, None, Rating.satisfied)
    assert which.ticket == tid(first)
    other = w.actor("reporter2")
    refused(Reason.not_found, actions.rate, w.desk, other, tid(first), Rating.satisfied)
    open_ticket = w.ticket()
    refused(Reason.wrong_state, actions.rate, w.desk, reporter, tid(open_ticket), Rating.basic)
    refused(Reason.needs_text, actions.rate, w.desk, reporter, tid(first), Rating.unsatisfied)
    assert first.state == S.resolved.value and first.rating is None


# -------------------------------------------------------------------------------- correct


def test_correct_category_reroutes_a_ticket_the_rules_placed(w: World) -> None:
    t = w.ticket()
    t.route = "village_cadre:张家村"
    before = w.last_outbox_id()
    done = actions.correct(w.desk, w.actor("reporter"), None, Correction(category="道路"))
    assert done.note == "类别改为道路交通" and t.category == "road"
    assert t.assignee_id != w.person("cadre:张家村").id
    assert w.kinds(t)[-2:] == ["corrected", "rerouted"]
    assert w.outbox(before) == [
        ("assigned", t.assignee_id),
        ("taken_off", w.person("cadre:张家村").id),
    ]


def test_correct_place_and_urgency(w: World) -> None:
    t = w.ticket()
    reporter = w.actor("reporter")
    done = actions.correct(w.desk, reporter, tid(t), Correction(place="李家", group=2))
    assert done.note == "地点改为李家村2组" and t.village_id == w.town.villages["李家村"]
    assert t.group_number == 2
    assert actions.correct(w.desk, reporter, tid(t), Correction(urgent=True)).note == "改为紧急"
    assert t.urgent
    same = actions.correct(w.desk, reporter, tid(t), Correction(place="", group=1))
    assert same.note == "地点改为李家村1组"


def test_correct_refusals(w: World) -> None:
    reporter = w.actor("reporter")
    refused(Reason.nothing_to_correct, actions.correct, w.desk, reporter, None, Correction())
    t = w.ticket()
    refused(Reason.not_found, actions.correct, w.desk, w.actor("reporter2"), tid(t), Correction())
    refused(Reason.needs_text, actions.correct, w.desk, reporter, tid(t), Correction(typed="好"))
    unknown = refused(
        Reason.unknown_category,
        actions.correct,
        w.desk,
        reporter,
        None,
        Correction(category="火星"),
    )
    assert unknown.detail == {"word": "火星"}
    nowhere = refused(
        Reason.unknown_village, actions.correct, w.desk, reporter, None, Correction(place="王家")
    )
    assert nowhere.detail == {"word": "王家"}
    placeless = w.ticket()
    locate(w.db, placeless, None, None)
    blank = Correction(place="", group=2, typed="村2组")
    lost = refused(Reason.unknown_village, actions.correct, w.desk, reporter, tid(placeless), blank)
    assert lost.detail == {"word": "村2组"}
    accepted = w.ticket_in(S.accepted)
    refused(
        Reason.wrong_state,
        actions.correct,
        w.desk,
        reporter,
        tid(accepted),
        Correction(urgent=True),
    )
    assert "corrected" not in w.kinds(t)


# ------------------------------------------------------------------------------- withdraw


def test_withdraw_voids_the_ticket_and_tells_the_assignee(w: World) -> None:
    t = w.ticket_in(S.returned)
    before = w.last_outbox_id()
    actions.withdraw(w.desk, w.actor("reporter"), tid(t))
    assert t.state == S.invalid.value
    assert w.events(t)[-1] == ("withdrawn", "反映人撤回")
    assert w.requests(t) == [("return", "cancelled")]
    assert w.outbox(before) == [("withdrawn", w.person("cadre:张家村").id)]


def test_withdraw_refusals(w: World) -> None:
    t = w.ticket()
    refused(Reason.not_found, actions.withdraw, w.desk, w.actor("reporter2"), tid(t))
    refused(Reason.not_found, actions.withdraw, w.desk, w.actor("reporter"), 9999)
    done = w.ticket_in(S.resolved)
    refused(Reason.wrong_state, actions.withdraw, w.desk, w.actor("reporter"), tid(done))
    assert t.state == S.assigned.value
