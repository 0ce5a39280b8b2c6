"""Whole conversations from several phones: a ticket from 派单 to 回访, and every refusal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone
from handlers import texts
from models.outbox import OutboxMessage
from models.ticket import Ticket, TicketEvent, TicketState
from tests.builders import say
from tests.town import SmallTown, build_small_town


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


class Phones:
    """Everyone's phone: reporters on the 公众号, cadres on 企业微信."""

    def __init__(
        self, client: FlaskClient, phone: Phone, wecom_phone: Phone, town: SmallTown
    ) -> None:
        self.client, self.phone, self.wecom, self.town = client, phone, wecom_phone, town

    def reporter(self, text: str, key: str = "reporter") -> str:
        return say(self.client, self.phone, self.town.openid(key), text)

    def cadre(self, person_id: int | None, text: str) -> str:
        person = next(p for p in self.town.people.values() if p.id == person_id)
        assert person.wecom_userid
        return say(self.client, self.wecom, person.wecom_userid, text)

    def as_(self, key: str, text: str) -> str:
        return self.cadre(self.town.people[key].id, text)


@pytest.fixture
def phones(client: FlaskClient, phone: Phone, wecom_phone: Phone, town: SmallTown) -> Phones:
    return Phones(client, phone, wecom_phone, town)


def ticket(engine: Engine, ticket_id: int | None = None) -> Ticket:
    with Session(engine) as session:
        stmt = select(Ticket).order_by(Ticket.id.desc())  # type: ignore[union-attr]
        if ticket_id is not None:
            stmt = select(Ticket).where(Ticket.id == ticket_id)
        return session.exec(stmt).first()  # type: ignore[return-value]


def kinds(engine: Engine, ticket_id: int) -> list[str]:
    with Session(engine) as session:
        stmt = (
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return [e.kind for e in session.exec(stmt)]


def notes(engine: Engine) -> list[tuple[str, int | None]]:
    """(kind, person) of every outbox message, oldest first."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.kind, m.person_id) for m in rows]


def test_report_accept_progress_resolve_satisfied_closed(
    phones: Phones, engine: Engine, town: SmallTown, run_cli
) -> None:  # type: ignore[no-untyped-def]
    phones.reporter("我们组的路灯坏了一个多月，晚上黑漆漆的")
    t = ticket(engine)
    assignee = t.assignee_id
    reporter = town.people["reporter"].id
    assert phones.cadre(assignee, f"签收 {t.id}") == texts.ACCEPTED.format(id=t.id)
    assert phones.cadre(
        assignee, f"进度 #{t.id} 已联系电工，明天来换"
    ) == texts.PROGRESS_RECORDED.format(id=t.id)
    assert "要写结果说明" in phones.cadre(assignee, f"办结 {t.id}")
    assert phones.cadre(assignee, f"办结 {t.id}号 已换新灯泡") == texts.RESOLVED.format(id=t.id)
    assert ticket(engine).rating_asked_at is not None
    assert phones.reporter("满意") == texts.RATING_THANKS.format(id=t.id)
    final = ticket(engine)
    assert final.state == TicketState.closed.value and final.rating == "satisfied"
    assert kinds(engine, t.id) == [
        "created",
        "assigned",
        "accepted",
        "progress",
        "resolved",
        "rated",
    ]
    assert notes(engine) == [
        ("assigned", assignee),
        ("accepted", reporter),
        ("progress", reporter),
        ("resolved", reporter),
    ]
    # The operator sees the same, each once, through the command line.
    listed = json.loads(run_cli("outbox", "list", "--json", "--ticket", str(t.id)).output)
    assert [(m["kind"], m["person_id"]) for m in reversed(listed)] == notes(engine)


def test_return_approved_reroutes_to_someone_else(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("我们组两家为田边界吵架，快打起来了")
    t = ticket(engine)
    cadre = town.people["cadre:张家村"].id
    assert t.assignee_id == cadre
    assert "要写原因" in phones.cadre(cadre, f"退回 {t.id}")
    assert phones.cadre(cadre, f"退回 {t.id} 这是镇司法所的事") == texts.RETURN_REQUESTED.format(
        id=t.id
    )
    assert ticket(engine).state == TicketState.returned.value
    queue = phones.as_("dispatcher", "待派")
    assert f"#{t.id}" in queue
    reply = phones.as_("dispatcher", f"同意 {t.id}")
    after = ticket(engine)
    assert after.state == TicketState.assigned.value and after.assignee_id not in (cadre, None)
    assert after.assignee_id == town.people["liaison"].id and "张家村包村干部" in reply
    assert after.return_count == 1
    dispatcher, reporter = town.people["dispatcher"].id, town.people["reporter"].id
    assert notes(engine) == [
        ("assigned", cadre),
        ("return_request", dispatcher),
        ("returned", reporter),
        ("assigned", after.assignee_id),
        ("reassigned", reporter),
    ]
    assert kinds(engine, t.id) == ["created", "assigned", "returned", "rerouted"]


def test_return_rejected_goes_back_to_the_assignee(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("我们组两家为田边界吵架")
    t = ticket(engine)
    cadre = town.people["cadre:张家村"].id
    phones.cadre(cadre, f"退回 {t.id} 不归我管")
    assert "要写原因" in phones.as_("dispatcher", f"驳回 {t.id}")
    assert phones.as_(
        "dispatcher", f"驳回 {t.id} 属于本村调解范围"
    ) == texts.REQUEST_REJECTED.format(id=t.id, request="退回")
    after = ticket(engine)
    assert after.state == TicketState.assigned.value and after.assignee_id == cadre
    assert notes(engine)[-1] == ("return_rejected", cadre)
    assert phones.as_("dispatcher", f"同意 {t.id}") == texts.NO_PENDING_REQUEST.format(id=t.id)


def test_unsatisfied_reopens_then_resolved_again(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("村里垃圾站满了没人清理")
    t = ticket(engine)
    a = t.assignee_id
    phones.cadre(a, f"签收 {t.id}")
    phones.cadre(a, f"办结 {t.id} 已清运")
    assert "原因" in phones.reporter(f"不满意 {t.id}")
    reply = phones.reporter(f"不满意 {t.id} 只清了一半")
    assert f"#{t.id}" in reply
    reopened = ticket(engine)
    assert reopened.state == TicketState.assigned.value and reopened.reopen_count == 1
    assert reopened.assignee_id == a and reopened.rating == "unsatisfied"
    assert notes(engine)[-1] == ("reopened", a)
    assert "重办" in phones.cadre(a, "待办")
    phones.cadre(a, f"签收 {t.id}")
    phones.cadre(a, f"办结 {t.id} 全部清完了")
    assert phones.reporter("基本满意") == texts.RATING_THANKS.format(id=t.id)
    final = ticket(engine)
    assert final.state == TicketState.closed.value and final.rating == "basic"
    assert kinds(engine, t.id) == [
        "created",
        "assigned",
        "accepted",
        "resolved",
        "reopened",
        "reassigned",
        "accepted",
        "resolved",
        "rated",
    ]


def test_extension_approved_moves_the_deadline(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("2组的山塘漏水了，要修")
    t = ticket(engine)
    before = t.resolve_due_at
    assert before is not None
    a = t.assignee_id
    assert "天数和原因" in phones.cadre(a, f"延期 {t.id}")
    assert "最多15" in phones.cadre(a, f"延期 {t.id} 30 要等汛期过")
    assert phones.cadre(a, f"延期 {t.id} 5 等材料到货") == texts.EXTENSION_REQUESTED.format(
        id=t.id, days=5
    )
    assert f"#{t.id}" in phones.as_("dispatcher", "待派")
    assert "新的办结期限" in phones.as_("dispatcher", f"同意 {t.id}")
    after = ticket(engine).resolve_due_at
    assert after is not None and after - before >= timedelta(days=5)
    assert notes(engine)[-2:] == [
        ("extension_request", town.people["dispatcher"].id),
        ("extension_approved", a),
    ]


def test_extension_rejected_leaves_the_deadline(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("2组的山塘漏水了")
    t = ticket(engine)
    phones.cadre(t.assignee_id, f"延期 {t.id} 3 人手不够")
    phones.as_("dispatcher", f"驳回 {t.id} 抓紧办")
    assert ticket(engine).resolve_due_at == t.resolve_due_at
    assert notes(engine)[-1] == ("extension_rejected", t.assignee_id)


def test_merge_makes_the_second_reporter_follow_the_first_ticket(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("李家村1组停电了，好几户都没电", key="reporter")
    first = ticket(engine)
    phones.reporter("我们组停电了", key="reporter2")
    second = ticket(engine)
    assert phones.as_("dispatcher", f"合并 {second.id} {first.id}") == texts.MERGED.format(
        id=second.id, target=first.id
    )
    assert ticket(engine, second.id).state == TicketState.duplicate.value
    a = first.assignee_id
    phones.cadre(a, f"签收 {first.id}")
    followers = {p for k, p in notes(engine) if k == "accepted"}
    assert followers == {town.people["reporter"].id, town.people["reporter2"].id}
    assert "状态：" in phones.reporter(f"查询 {first.id}", key="reporter2")


def test_transfer_to_a_colleague(phones: Phones, engine: Engine, town: SmallTown) -> None:
    phones.reporter("2组有个老人独居，生病了没人照顾")
    t = ticket(engine)
    a = t.assignee_id
    assert phones.cadre(a, f"转办 {t.id} 周干部") == texts.TRANSFERRED.format(
        id=t.id, name="周干部"
    )
    after = ticket(engine)
    assert after.assignee_id == town.people["colleague"].id and after.route.startswith("transfer:")
    assert notes(engine)[-2:] == [
        ("assigned", after.assignee_id),
        ("reassigned", town.people["reporter"].id),
    ]
    assert "找不到" in phones.as_("colleague", f"转办 {t.id} 不存在的人")


def test_dispatcher_assigns_and_marks_invalid(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("我们组路边有人倒建筑垃圾")
    t = ticket(engine)
    assert phones.as_("dispatcher", f"派 {t.id} 周干部") == texts.ASSIGNED_BY_DISPATCHER.format(
        id=t.id, name="周干部"
    )
    assert ticket(engine).assignee_id == town.people["colleague"].id
    assert "要写原因" in phones.as_("dispatcher", f"无效 {t.id}")
    phones.as_("dispatcher", f"无效 {t.id} 已由城管处理")
    assert ticket(engine).state == TicketState.invalid.value
    assert ("invalid", town.people["reporter"].id) in notes(engine)


def test_views_for_each_side(phones: Phones, engine: Engine, town: SmallTown) -> None:
    phones.reporter("我们组的水管爆了")
    t = ticket(engine)
    detail = phones.cadre(t.assignee_id, f"查看 {t.id}")
    assert f"#{t.id}" in detail and "受理" in detail and "派单" in detail
    assert f"#{t.id}" in phones.cadre(t.assignee_id, "待办")
    assert f"#{t.id}" in phones.reporter("我的")
    assert "状态：已派单" in phones.reporter(f"查询 {t.id}")


def test_every_unauthorised_attempt_is_refused_without_revealing_anything(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("我们组的路被水冲垮了")
    t = ticket(engine)
    refused = texts.NOT_FOUND.format(id=t.id)
    other_cadre = town.people["cadre:李家村"].id
    # Someone who may act on tickets, but not on this one: told it cannot be found.
    not_theirs = [
        phones.cadre(other_cadre, f"签收 {t.id}"),
        phones.cadre(other_cadre, f"办结 {t.id} 修好了"),
        phones.cadre(other_cadre, f"进度 {t.id} 在办"),
        phones.cadre(other_cadre, f"退回 {t.id} 不归我"),
        phones.cadre(other_cadre, f"转办 {t.id} 周干部"),
        phones.cadre(other_cadre, f"延期 {t.id} 3 等材料"),
        phones.cadre(other_cadre, f"查看 {t.id}"),
        phones.reporter(f"查询 {t.id}", key="reporter2"),
        phones.reporter(f"满意 {t.id}", key="reporter2"),
        phones.reporter(f"不满意 {t.id} 没修", key="reporter2"),
        phones.reporter(f"撤回 {t.id}", key="reporter2"),
    ]
    assert not_theirs == [refused] * len(not_theirs)
    # Someone without the role: told so, whichever ticket they name.
    assert [
        phones.cadre(t.assignee_id, f"同意 {t.id}"),
        phones.cadre(t.assignee_id, f"派 {t.id} 周干部"),
        phones.cadre(t.assignee_id, f"无效 {t.id} 不想办"),
        phones.cadre(t.assignee_id, f"合并 {t.id} 1"),
        phones.cadre(t.assignee_id, f"驳回 {t.id} 不行"),
    ] == [texts.NOT_A_DISPATCHER] * 5
    assert phones.reporter(f"签收 {t.id}") == texts.NOT_A_HANDLER
    assert phones.reporter("签收 9999") == texts.NOT_A_HANDLER
    # A ticket that does not exist gets exactly the same answer.
    assert phones.cadre(other_cadre, "签收 9999") == texts.NOT_FOUND.format(id=9999)
    assert ticket(engine).state == TicketState.assigned.value
    assert kinds(engine, t.id) == ["created", "assigned"]


def test_invalid_steps_get_a_clear_answer(phones: Phones, engine: Engine, town: SmallTown) -> None:
    phones.reporter("我们组的路灯坏了")
    t = ticket(engine)
    a = t.assignee_id
    phones.cadre(a, f"签收 {t.id}")
    assert "不能签收" in phones.cadre(a, f"签收 {t.id}")
    phones.cadre(a, f"办结 {t.id} 修好了")
    assert "不能办结" in phones.cadre(a, f"办结 {t.id} 再办一次")
    assert phones.reporter("满意 9999") == texts.NOT_FOUND.format(id=9999)


def test_ticket_show_json_ends_with_the_full_timeline(
    phones: Phones, engine: Engine, town: SmallTown, run_cli
) -> None:
    phones.reporter("我们组的路灯坏了")
    t = ticket(engine)
    phones.cadre(t.assignee_id, f"签收 {t.id}")
    phones.cadre(t.assignee_id, f"办结 {t.id} 换好了")
    phones.reporter("满意")
    result = run_cli("ticket", "show", str(t.id), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["state"] == "closed" and record["assignee"]["id"] == t.assignee_id
    assert record["route"] == t.route
    assert [e["kind"] for e in record["timeline"]] == [
        "created",
        "assigned",
        "accepted",
        "resolved",
        "rated",
    ]
    assert record["timeline"][-1]["to"] == "closed"
    listed = run_cli("ticket", "list", "--state", "closed", "--place", "张家村", "--json")
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [t.id]
    assert run_cli("ticket", "list", "--place", "李家村", "--json").output == ""
    assert "换好了" in run_cli("ticket", "show", str(t.id)).output


def test_closing_a_ticket_with_a_pending_return_cancels_the_request(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("我们组两家为田边界吵架")
    t = ticket(engine)
    phones.cadre(t.assignee_id, f"退回 {t.id} 不归我管")
    phones.as_("dispatcher", f"无效 {t.id} 已经调解好了")
    assert ticket(engine).state == TicketState.invalid.value
    assert phones.as_("dispatcher", f"同意 {t.id}") == texts.NO_PENDING_REQUEST.format(id=t.id)
    assert "待派" not in phones.as_("dispatcher", "待派") or f"#{t.id}" not in phones.as_(
        "dispatcher", "待派"
    )


def test_merging_twice_keeps_every_reporter_and_refuses_void_targets(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("李家村1组停电了，好几户都没电", key="reporter")
    first = ticket(engine)
    phones.reporter("我们组停电了", key="reporter2")
    second = ticket(engine)
    phones.reporter("1组又停电了", key="stranger")
    third = ticket(engine)
    phones.as_("dispatcher", f"合并 {third.id} {second.id}")
    phones.as_("dispatcher", f"合并 {second.id} {first.id}")
    assert ticket(engine, third.id).duplicate_of_id == first.id
    assert "不能作为合并目标" in phones.as_("dispatcher", f"合并 {first.id} {second.id}")
    a = first.assignee_id
    phones.cadre(a, f"签收 {first.id}")
    phones.cadre(a, f"办结 {first.id} 线路修好了")
    resolved = [(k, p) for k, p in notes(engine) if k == "resolved"]
    people = town.people
    assert sorted(p for _, p in resolved) == sorted(
        [people["reporter"].id, people["reporter2"].id, people["stranger"].id]
    )
    assert "状态：" in phones.reporter(f"查询 {first.id}", key="stranger")
    # Only the ticket's own reporter is asked to rate it.
    with Session(engine) as session:
        texts_by_person = {
            m.person_id: m.text
            for m in session.exec(select(OutboxMessage).where(OutboxMessage.kind == "resolved"))
        }
    assert "请评价" in texts_by_person[people["reporter"].id]
    assert "请评价" not in texts_by_person[people["stranger"].id]


def test_dispatcher_reassigning_tells_the_previous_assignee(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("我们组路边有人倒建筑垃圾")
    t = ticket(engine)
    before = t.assignee_id
    phones.as_("dispatcher", f"派 {t.id} 周干部")
    assert ("taken_off", before) in notes(engine)
    assert notes(engine)[-3:] == [
        ("assigned", town.people["colleague"].id),
        ("taken_off", before),
        ("reassigned", town.people["reporter"].id),
    ]


def test_a_second_extension_waits_for_the_first(phones: Phones, engine: Engine) -> None:
    phones.reporter("2组的山塘漏水了")
    t = ticket(engine)
    phones.cadre(t.assignee_id, f"延期 {t.id} 3 等材料")
    assert phones.cadre(t.assignee_id, f"延期 {t.id} 5 还要等") == (
        texts.EXTENSION_ALREADY_PENDING.format(id=t.id)
    )
    phones.cadre(t.assignee_id, f"办结 {t.id} 修好了")
    assert phones.as_("dispatcher", f"同意 {t.id}") == texts.NO_PENDING_REQUEST.format(id=t.id)


def test_help_shows_the_commands_of_the_senders_roles(phones: Phones) -> None:
    assert phones.reporter("帮助") == texts.HELP
    assert phones.as_("colleague", "帮助") == texts.HELP_CADRE
    assert texts.HELP_DISPATCHER in phones.as_("dispatcher", "菜单")


def test_transfer_with_a_note_keeps_the_note(
    phones: Phones, engine: Engine, town: SmallTown
) -> None:
    phones.reporter("2组有个老人独居，生病了没人照顾")
    t = ticket(engine)
    reply = phones.cadre(t.assignee_id, f"转办 {t.id} 周干部 他负责民政这块")
    assert reply == texts.TRANSFERRED.format(id=t.id, name="周干部")
    with Session(engine) as session:
        event = session.exec(select(TicketEvent).where(TicketEvent.kind == "transferred")).one()
    assert event.note.startswith("他负责民政这块")
