"""Outbound channels: how one outbox message reaches one person's phone, and what went wrong.

A channel answers each send with a SendResult: sent, retry later (with the reason), or dead (a
permanent failure: retrying cannot help). Which channel reaches a person is decided in one
place, `channel_for`, from the identities bound to the roster entry.

Just before each API call a channel has the worker mark the message `sending` (its own commit,
naming the call: wecom, wechat_cs, wechat_template). A message found `sending` later — its
worker was killed, or the call timed out after the request left — may have reached the phone.
It is sent again only where WeChat drops the repeat itself: 企业微信 app messages go out with
`enable_duplicate_check` (the same request within `WECOM_DUPLICATE_CHECK_SECONDS` is not
delivered twice), 公众号 template messages with a `client_msg_id` fixed per message (one
message per openid and id within ten minutes). A customer-service message has no such id:
found `sending`, it is held as an "uncertain" dead letter for the office to check
(`resend_is_safe`).
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import requests
import urllib3.exceptions
from sqlalchemy import Engine, func
from sqlmodel import col, select
from wechatpy.exceptions import WeChatClientException

from bot import texts
from bot.access_token import (
    HTTP_TIMEOUT_SECONDS,
    TOKEN_ERRORS,
    TokenUnavailable,
    WechatApiClient,
    WeChatClients,
    WecomApiClient,
    build_clients,
)
from bot.inbox import mask
from config.calendar import TIMEZONE
from config.settings import Settings
from config.templates import Templates, load_templates
from models.db import read_session
from models.inbound import InboundMessage
from models.outbox import OutboxMessage, OutboxStatus
from models.person import Person

log = logging.getLogger(__name__)

LOCAL_TZ = TIMEZONE
# 公众号 customer-service messages: allowed for 48 hours after the user's last message, 5 at most.
CS_WINDOW = timedelta(hours=48)
CS_WINDOW_MESSAGES = 5
WINDOW_CLOSED_ERRORS = frozenset({45015, 45047})  # reply time limit exceeded / too many messages
# Errors no retry can fix: the recipient, the content or the template is wrong.
PERMANENT_ERRORS: dict[int, str] = {
    40003: "invalid openid",
    40037: "invalid template id",
    43004: f"recipient does not follow the {texts.OFFICIAL_ACCOUNT}",
    43019: f"recipient has blocked the {texts.OFFICIAL_ACCOUNT}",
    44004: "empty message",
    45002: "message too long",
    47001: "malformed request data",
    48001: "API not authorised for this account",
    60111: f"userid not found in {texts.WECOM}",
    81013: f"no valid recipient in {texts.WECOM}",
}
# Errors that say the API itself is unavailable for now: stop calling it for this batch.
UNAVAILABLE_ERRORS = frozenset({-1, 45009, 45011})  # system busy, API frequency limits

RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0

# How long WeChat drops a repeat of a call, per kind of call (None: it never does).
WECOM_DUPLICATE_CHECK_SECONDS = 1800  # 企业微信: the same request JSON, 30 minutes (at most 4 h)
TEMPLATE_CLIENT_MSG_ID_SECONDS = 600  # 公众号 template: one per openid + client_msg_id, 10 min
DEDUP_WINDOWS: dict[str, float | None] = {
    "wecom": WECOM_DUPLICATE_CHECK_SECONDS,
    "wechat_template": TEMPLATE_CLIENT_MSG_ID_SECONDS,
    "wechat_cs": None,  # customer-service messages: no id, no duplicate check
}
# The repeat must reach WeChat inside the window: one call's timeout and some slack before it.
RESEND_MARGIN = timedelta(seconds=HTTP_TIMEOUT_SECONDS + 20)


class LeaseLost(RuntimeError):
    """Another worker claimed the message meanwhile: this one must not send it."""


class Sending:
    """The worker's side of one delivery: marks the message `sending` just before a call.

    `resumed_via` names the call an earlier attempt made that may have gone through; the
    channel must repeat exactly that call (same kind, same content, same client id).
    """

    def __init__(self, mark: Callable[[str], None], resumed_via: str | None = None) -> None:
        self._mark = mark
        self.resumed_via = resumed_via
        self.marked_via: str | None = None

    def about_to_call(self, via: str) -> None:
        """Commit `sending` via `via`; LeaseLost when the message is no longer ours."""
        self._mark(via)
        self.marked_via = via


def _about_to_call(sending: Sending | None, via: str) -> None:
    if sending is not None:
        sending.about_to_call(via)


def _token_first(client: WechatApiClient | WecomApiClient) -> None:
    """Get the access token first: after the `sending` mark comes the call and nothing else."""
    client.tokens.get()


def family_of(via: str) -> str:
    """The channel a call belongs to: wechat_cs → wechat."""
    return via.split("_", 1)[0]


def resend_is_safe(via: str, started: datetime | None, now: datetime) -> bool:
    """Whether a call that may have gone through can be repeated without a second delivery."""
    if via == ConsoleChannel.name:
        return True  # nothing left the machine
    window = DEDUP_WINDOWS.get(via)
    if window is None or started is None:
        return False
    return now - started < timedelta(seconds=window) - RESEND_MARGIN


def client_msg_id(message: OutboxMessage) -> str:
    """The 公众号 template message's client_msg_id: the same for every try of one message."""
    return f"gb{message.id}-{int(message.created_at.timestamp())}"


class Outcome(StrEnum):
    sent = "sent"
    retry = "retry"
    dead = "dead"


@dataclass(frozen=True)
class SendResult:
    """What one send came to; `unavailable` means the API (not the message) is failing."""

    outcome: Outcome
    channel: str
    reason: str = ""
    unavailable: bool = False
    uncertain: bool = False  # the request left: WeChat may have delivered it all the same

    @classmethod
    def sent(cls, channel: str) -> SendResult:
        """Delivered through `channel`."""
        return cls(Outcome.sent, channel)

    @classmethod
    def retry(
        cls, channel: str, reason: str, *, unavailable: bool = False, uncertain: bool = False
    ) -> SendResult:
        """Not known to be delivered; worth another try later."""
        return cls(Outcome.retry, channel, reason, unavailable, uncertain)

    @classmethod
    def dead(cls, channel: str, reason: str) -> SendResult:
        """Never deliverable as it stands: kept as a dead letter."""
        return cls(Outcome.dead, channel, reason)


class Channel(Protocol):
    """Something that delivers an outbox message to a person."""

    name: str

    def send(
        self,
        person: Person,
        message: OutboxMessage,
        *,
        now: datetime,
        sending: Sending | None = None,
    ) -> SendResult:
        """Deliver one message; never raises for WeChat's or the network's failures."""
        ...


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: about 30 s after the first failure, at most an hour."""
    base = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    # Jitter spreads a crowd of messages that failed together (an outage) over the interval.
    return timedelta(seconds=base * rng.uniform(0.5, 1.0))


def failure(channel: str, exc: BaseException) -> SendResult:
    """Classify a failed call: permanent errors are dead letters, everything else waits."""
    if isinstance(exc, TokenUnavailable):
        return SendResult.retry(channel, f"no access token: {exc}", unavailable=True)
    if isinstance(exc, requests.RequestException):
        return SendResult.retry(
            channel,
            f"network: {type(exc).__name__}",
            unavailable=True,
            uncertain=may_have_arrived(exc),
        )
    if isinstance(exc, WeChatClientException):
        code = exc.errcode
        if code is None:
            status = getattr(exc.response, "status_code", None)
            return SendResult.retry(channel, f"HTTP {status or 'error'}", unavailable=True)
        code = int(code)
        described = f"errcode {code}: {exc.errmsg}"
        if code in PERMANENT_ERRORS:
            return SendResult.dead(channel, f"{described} ({PERMANENT_ERRORS[code]})")
        if code in TOKEN_ERRORS:
            return SendResult.retry(
                channel, f"token refused after a refresh: {described}", unavailable=True
            )
        return SendResult.retry(channel, described, unavailable=code in UNAVAILABLE_ERRORS)
    raise exc


def may_have_arrived(exc: requests.RequestException) -> bool:
    """Whether WeChat may have taken a call that failed on the network.

    A connection never made (refused, unresolvable, timed out connecting) sent nothing; a
    timeout waiting for the answer, or a connection lost after the request, may have.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True


CALL_ERRORS = (WeChatClientException, requests.RequestException, TokenUnavailable)


# A mainland mobile number as notifications and people write it: 13800000000, +86 138 0000 0000.
_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[\s-]?)?(1\d{2})[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    """Every phone number in a text cut to 138****0000, as logs show them (openids: `mask`)."""
    return _MOBILE.sub(r"\1****\2", text)


class ConsoleChannel:
    """Development delivery: logs each message; the outbox row is marked sent via "console"."""

    name = "console"

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.echo = echo  # also show each message here (the CLI passes click.echo)

    def send(
        self,
        person: Person,
        message: OutboxMessage,
        *,
        now: datetime,
        sending: Sending | None = None,
    ) -> SendResult:
        """Log the message as it would be sent (no `sending` mark: nothing leaves the machine)."""
        via = texts.WECOM if person.wecom_userid else texts.OFFICIAL_ACCOUNT
        if self.echo is not None:
            self.echo(f"—— to {person.name} via {via} [{message.kind}] ——\n{message.text}")
        log.info(
            "console delivery #%s [%s] to %s via %s: %s",
            message.id,
            message.kind,
            person.name,
            via,
            mask_phones(message.text),
        )
        return SendResult.sent(self.name)


class WecomChannel:
    """企业微信 app text messages to a member's userid: how cadres are reached."""

    name = "wecom"

    def __init__(self, client: WecomApiClient) -> None:
        self.client = client

    def send(
        self,
        person: Person,
        message: OutboxMessage,
        *,
        now: datetime,
        sending: Sending | None = None,
    ) -> SendResult:
        """Send a text app message; a userid WeChat lists as invalid is a permanent failure.

        With 企业微信's duplicate check on, a repeat of the same request (after a worker died
        mid-call) within the check's interval is not delivered again.
        """
        userid = person.wecom_userid or ""
        payload = {
            "msgtype": "text",
            "text": {"content": message.text},
            "safe": 0,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": WECOM_DUPLICATE_CHECK_SECONDS,
        }
        try:
            _token_first(self.client)
            _about_to_call(sending, self.name)
            result = self.client.message.send(self.client.agent_id, userid, msg=payload)
        except CALL_ERRORS as exc:
            return failure(self.name, exc)
        # Recipients outside the app's visible range come back here with errcode 0.
        invalid = (
            str(result.get("invaliduser") or "").split("|") if isinstance(result, dict) else []
        )
        if userid in invalid:
            return SendResult.dead(self.name, "invaliduser: not in the app's visible range")
        return SendResult.sent(self.name)


class WechatChannel:
    """公众号: a customer-service message inside the 48-hour window, else a template message."""

    name = "wechat"

    def __init__(self, client: WechatApiClient, engine: Engine, templates: Templates) -> None:
        self.client = client
        self.engine = engine
        self.templates = templates

    def window_open(self, person: Person, now: datetime) -> bool:
        """Whether the person wrote within 48 hours and fewer than 5 messages went out since."""
        with read_session(self.engine) as session:
            last = session.exec(
                select(func.max(InboundMessage.received_at)).where(
                    InboundMessage.channel == "wechat",
                    InboundMessage.sender == person.wechat_openid,
                    # Follows, menu clicks and location reports allow fewer messages; only
                    # the person's own messages count as opening the window.
                    InboundMessage.msg_type != "event",
                )
            ).one()
            if last is None or now - last >= CS_WINDOW:
                return False
            sent = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.person_id == person.id,
                    OutboxMessage.status == OutboxStatus.sent.value,
                    OutboxMessage.channel == "wechat_cs",
                    col(OutboxMessage.sent_at) >= last,
                )
            ).one()
        return int(sent) < CS_WINDOW_MESSAGES

    def send(
        self,
        person: Person,
        message: OutboxMessage,
        *,
        now: datetime,
        sending: Sending | None = None,
    ) -> SendResult:
        """Customer-service message when the window is open; WeChat saying it is shut → template.

        A template message that may have gone out already is repeated as that same template
        (same client_msg_id), whatever the window says now.
        """
        openid = person.wechat_openid or ""
        if sending is not None and sending.resumed_via == "wechat_template":
            return self._send_template(openid, message, sending)
        if self.window_open(person, now):
            try:
                _token_first(self.client)
                _about_to_call(sending, "wechat_cs")
                self.client.message.send_text(openid, message.text)
                return SendResult.sent("wechat_cs")
            except WeChatClientException as exc:
                if exc.errcode is None or int(exc.errcode) not in WINDOW_CLOSED_ERRORS:
                    return failure("wechat_cs", exc)
                log.info("window shut for %s (%s): template instead", mask(openid), exc.errcode)
            except (requests.RequestException, TokenUnavailable) as exc:
                return failure("wechat_cs", exc)
        return self._send_template(openid, message, sending)

    def _send_template(
        self, openid: str, message: OutboxMessage, sending: Sending | None
    ) -> SendResult:
        template = self.templates.for_kind(message.kind)
        if template is None:
            return SendResult.dead(
                "wechat_template",
                f"window closed and no template id for kind {message.kind!r} "
                "(config/templates.toml)",
            )
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template.template_id,
            "data": template.render(template_values(message)),
            # wechatpy 1.8.18's send_template has no client_msg_id: the same call, by hand.
            "client_msg_id": client_msg_id(message),
        }
        if template.url:
            body["url"] = template.url
        try:
            _token_first(self.client)
            _about_to_call(sending, "wechat_template")
            self.client.post("message/template/send", data=body)
        except CALL_ERRORS as exc:
            return failure("wechat_template", exc)
        return SendResult.sent("wechat_template")


def template_values(message: OutboxMessage) -> dict[str, Any]:
    """What a template's fields may name: the message's data plus text, kind, ticket and time."""
    try:
        data = json.loads(message.data or "{}")
    except ValueError:
        data = {}
    values: dict[str, Any] = data if isinstance(data, dict) else {}
    values.setdefault("text", message.text)
    values.setdefault("kind", message.kind)
    values.setdefault("ticket_id", message.ticket_id)
    values.setdefault("time", message.created_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"))
    return values


@dataclass(frozen=True)
class Channels:
    """The channels a worker sends through; `console` set means development delivery."""

    console: ConsoleChannel | None = None
    wecom: WecomChannel | None = None
    wechat: WechatChannel | None = None


def recipient_of(message: OutboxMessage, person: Person | None) -> Person | None:
    """Whom the message goes to: the person as bound now, or the WeChat identity it names.

    A message addressed to an identity (models.outbox.enqueue's `recipient`) reaches that phone
    whether or not it is still bound to the person; the stand-in is never stored.
    """
    if not message.recipient:
        return person
    wecom = message.recipient_channel == "wecom"
    return Person(
        id=person.id if person else None,
        name=person.name if person else "",
        phone="",
        place_id=person.place_id if person else 0,
        active=True,
        wecom_userid=message.recipient if wecom else None,
        wechat_openid=None if wecom else message.recipient,
    )


def channel_for(person: Person | None, channels: Channels) -> Channel | str:
    """The one place that decides how a person is reached: a channel, or why nobody can be.

    企业微信 first (cadres who have a userid), then the 公众号; no identity is a dead letter.
    """
    if person is None:
        return "no recipient"
    if not person.active:
        return "recipient is no longer on the roster"
    if not (person.wecom_userid or person.wechat_openid):
        return "no WeChat identity"
    if channels.console is not None:
        return channels.console
    if person.wecom_userid and channels.wecom is not None:
        return channels.wecom
    if person.wechat_openid and channels.wechat is not None:
        return channels.wechat
    return (
        "no configured channel reaches this person "
        f"({texts.WECOM} / {texts.OFFICIAL_ACCOUNT} Secret not set)"
    )


def build_channels(
    engine: Engine,
    settings: Settings,
    *,
    clients: WeChatClients | None = None,
    templates: Templates | None = None,
) -> Channels:
    """Console channels in development, WeChat's otherwise (GRIEVANCE_DELIVERY)."""
    if settings.resolved_delivery == "console":
        return Channels(console=ConsoleChannel())
    clients = clients or build_clients(engine, settings)
    if clients.wechat is None and clients.wecom is None:
        log.warning(
            "GRIEVANCE_DELIVERY=wechat but no outbound credentials (AppID + AppSecret, or "
            "CorpID + AgentId + Secret): every message will be a dead letter"
        )
    templates = templates or load_templates(settings.templates_file)
    return Channels(
        wecom=WecomChannel(clients.wecom) if clients.wecom else None,
        wechat=WechatChannel(clients.wechat, engine, templates) if clients.wechat else None,
    )
