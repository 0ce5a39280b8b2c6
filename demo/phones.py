"""The season's phones: signed callbacks posted to the app, and the outbox delivered to them.

Every message goes through the app's `/wechat` or `/wecom` endpoint (Flask's test client, no
network) as WeChat's servers would post it; what it did is read back by the witness. The outbox
reaches the phones through `deliver`, a stand-in for bot/worker.py with the phones as channel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.channels import Channels, ConsoleChannel, Sending, SendResult, channel_for
from bot.phone import Phone, message_xml, next_msg_id, reply_text
from config.settings import Settings
from demo.clock import Clock
from demo.witness import Answer, Witness
from models.db import read_session, unit_of_work
from models.outbox import OutboxMessage, OutboxStatus
from models.person import Person

# The in-process app's credentials: the season never leaves this process, so it signs with its
# own keys rather than the instance's.
SCENARIO_CREDENTIALS: dict[str, Any] = {
    "wechat_token": "demo-scenario",
    "wechat_aes_key": "DemoScenarioAesKey0123456789abcdefghijklmno",
    "wechat_appid": "wxdemoscenario000",
    "wecom_token": "demo-scenario-wecom",
    "wecom_aes_key": "DemoScenarioWecomKey0123456789abcdefghijklm",
    "wecom_corp_id": "wwdemoscenario000",
    "wecom_agent_id": "1000002",
}


class Webhook:
    """Posts signed callbacks to the app as WeChat's servers would; says what each one did."""

    def __init__(
        self, client: FlaskClient, settings: Settings, clock: Clock, witness: Witness
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self.witness = witness
        self.wechat = Phone(settings)  # 公众号 in safe mode: encrypted both ways
        self.wecom = Phone(settings, wecom=True)
        self.sent: Counter[str] = Counter()
        # Whether a message since the last delivery may have written to the outbox.
        self.may_notify = False
        # The newest timeline line seen: what a message wrote comes after it.
        self.seen = witness.last_line()

    def catch_up(self) -> None:
        """Skip the lines written by something other than a message (a scheduled job)."""
        self.seen = self.witness.last_line()

    def send(
        self, sender: str, msg_type: str, *, wecom: bool = False, quiet: bool = False, **fields: Any
    ) -> Answer:
        """Post one message from `sender` at the simulated time; what it did.

        `quiet` says the message tells nobody else (binding, a greeting, a query), so the season
        need not look at the outbox after it.
        """
        phone = self.wecom if wecom else self.wechat
        body: dict[str, Any] = {
            "ToUserName": self.settings.wecom_corp_id if wecom else "gh_town",
            "FromUserName": sender,
            "CreateTime": int(self.clock.now.timestamp()),
            "MsgType": msg_type,
        }
        body.update(fields)
        if msg_type != "event":
            body["MsgId"] = next_msg_id()
        if wecom:
            body["AgentID"] = self.settings.wecom_agent_id
        signed = phone.sign(message_xml(body))
        response = self.client.post(
            phone.path, query_string=signed.query, data=signed.body, content_type="text/xml"
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"the webhook answered {response.status_code}: {response.get_data(as_text=True)}"
            )
        self.sent["wecom" if wecom else "wechat"] += 1
        self.may_notify = self.may_notify or not quiet
        reply = reply_text(phone.open_reply(signed, response.get_data(as_text=True)))
        lines = self.witness.lines_after(self.seen)
        if lines:
            self.seen = lines[-1].id
        return Answer(reply, lines)

    def text(
        self, sender: str, content: str, *, wecom: bool = False, quiet: bool = False
    ) -> Answer:
        """A text message."""
        return self.send(sender, "text", wecom=wecom, quiet=quiet, Content=content)


class PhoneChannel(ConsoleChannel):
    """Delivery to the simulated phones: every outbox message reaches its person at once."""

    name = "scenario"

    def send(
        self,
        person: Person,
        message: OutboxMessage,
        *,
        now: datetime,
        sending: Sending | None = None,
    ) -> SendResult:
        """Hand the message over; the season reads it from the delivered batch."""
        return SendResult.sent(self.name)


@dataclass(frozen=True)
class Delivered:
    """A notification shown on someone's phone: whose, what kind, about which ticket."""

    person_id: int
    kind: str
    ticket_id: int | None


def deliver(engine: Engine, channels: Channels, now: datetime) -> list[Delivered]:
    """Deliver the due outbox to the phones; what reached whom, in the outbox's order.

    The outcomes of a pass are written in one transaction, which keeps a season of thousands of
    notifications fast.
    """
    due = (
        OutboxMessage.status == OutboxStatus.pending.value,
        col(OutboxMessage.next_attempt_at) <= now,
    )
    with read_session(engine) as session:
        if session.exec(select(OutboxMessage.id).where(*due).limit(1)).first() is None:
            return []
    received: list[Delivered] = []
    with unit_of_work(engine) as session:
        messages = list(
            session.exec(select(OutboxMessage).where(*due).order_by(col(OutboxMessage.id)))
        )
        ids = {m.person_id for m in messages if m.person_id is not None}
        people = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids)))}
        for message in messages:
            person = people.get(message.person_id) if message.person_id else None
            target = channel_for(person, channels)
            message.attempts += 1
            if isinstance(target, str) or person is None or person.id is None:
                message.status = OutboxStatus.dead.value
                message.last_error = target if isinstance(target, str) else "no recipient"
            else:
                result = target.send(person, message, now=now)
                message.status = OutboxStatus.sent.value
                message.sent_at = now
                message.channel = result.channel
                received.append(Delivered(person.id, message.kind, message.ticket_id))
            session.add(message)
    return received
