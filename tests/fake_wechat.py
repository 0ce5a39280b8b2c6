"""A fake WeChat API (公众号 and 企业微信) on loopback, for the real wechatpy clients to talk to.

It serves tokens (公众号 /cgi-bin/token, 企业微信 /cgi-bin/gettoken), customer-service, template
and 企业微信 app message sends, and media downloads, under `/wechat/cgi-bin/` and
`/wecom/cgi-bin/`. It records every call and fails on demand: down (HTTP 503) for N calls or
seconds, an errcode once, every token refused, 45015 for chosen openids, a permanent error for
chosen recipients, a userid listed as invalid, a send that blocks until released (never
delivered), and a send that is delivered and then hangs before answering (what a killed worker
leaves behind).

It drops repeats the way WeChat documents: a 企业微信 app message with
`enable_duplicate_check: 1` whose request JSON was delivered within `duplicate_check_interval`
seconds (default 1800, at most 14400) is not delivered again; a 公众号 template message with a
`client_msg_id` already delivered to that openid within 10 minutes is not either. Both answer
errcode 0. `advance(seconds)` moves the fake's clock for those windows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from config.settings import Settings
from models.db import read_session, unit_of_work
from models.outbox import OutboxMessage, enqueue
from models.person import Person
from models.place import Place, PlaceKind, add_place

logging.getLogger("werkzeug").setLevel(logging.WARNING)

SEND_ENDPOINTS = {"message/custom/send", "message/template/send", "message/send"}
TOKEN_ENDPOINTS = {"token", "gettoken"}
WECOM_DUPLICATE_CHECK_DEFAULT = 1800
WECOM_DUPLICATE_CHECK_MAX = 4 * 3600
TEMPLATE_CLIENT_MSG_ID_SECONDS = 600


class _KeepAliveHandler(WSGIRequestHandler):
    # HTTP/1.1 lets the clients' sessions reuse connections, as with the real API.
    protocol_version = "HTTP/1.1"

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Call:
    """One request the fake answered."""

    api: str  # "wechat" (公众号) or "wecom" (企业微信)
    endpoint: str  # "token", "message/custom/send", "media/get"…
    recipient: str | None
    content: str | None  # text content, or the template data as JSON
    token: str | None
    errcode: int | None  # None: answered with an HTTP error (down, blocked)
    template_id: str | None = None
    at: float = field(default_factory=time.monotonic)
    deduped: bool = False  # answered ok but not delivered: a repeat WeChat drops


class FakeWeChat:
    """The fake API: start it with `running_fake()`, read `calls`, arrange failures below."""

    def __init__(self, token_lifetime: int = 7200) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.token_lifetime = token_lifetime
        self._serial = count(1)
        self._tokens: dict[str, tuple[str, float]] = {}  # token → (api, expires at, epoch secs)
        self._down_calls = 0
        self._down_until = 0.0
        self._errcodes_once: list[int] = []
        self.refuse_all_tokens = False
        self.out_of_window: set[str] = set()  # openids whose customer-service window is shut
        self.recipient_errors: dict[str, tuple[int, str]] = {}
        self.invalid_users: set[str] = set()
        self.media: dict[str, tuple[bytes, str]] = {}
        self.block_marker: str | None = None
        self.hang_marker: str | None = None
        self.blocked = threading.Event()  # set when a send is held at the marker
        self.release = threading.Event()
        self.clock_offset = 0.0  # seconds added to the clock of the dedup windows
        self.answer_delay = 0.0  # seconds between delivering a send and answering it
        self._wecom_delivered: dict[str, float] = {}  # request JSON → when delivered
        self._templates_delivered: dict[tuple[str, str], tuple[float, int]] = {}
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- arranging failures

    def go_down(self, *, calls: int = 0, seconds: float = 0.0) -> None:
        """Answer HTTP 503 to the next `calls` requests, or to all for `seconds`."""
        with self.lock:
            self._down_calls = calls
            self._down_until = time.monotonic() + seconds if seconds else 0.0

    def fail_once(self, *errcodes: int) -> None:
        """The next sends answer these errcodes, one each, in order."""
        with self.lock:
            self._errcodes_once.extend(errcodes)

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (42001 when used)."""
        with self.lock:
            self._tokens = {t: (api, 0.0) for t, (api, _exp) in self._tokens.items()}

    def block_sends_containing(self, marker: str) -> None:
        """Hold a send whose content contains `marker` until `release` is set, then answer 503."""
        self.release.clear()
        self.blocked.clear()
        self.block_marker = marker

    def hang_after_delivering(self, marker: str) -> None:
        """Deliver a send whose content contains `marker`, then hold its answer until released."""
        self.release.clear()
        self.blocked.clear()
        self.hang_marker = marker

    def unblock(self) -> None:
        """Stop holding sends; a held one is answered (503 when it was never delivered)."""
        self.block_marker = None
        self.hang_marker = None
        self.release.set()

    def advance(self, seconds: float) -> None:
        """Move the dedup windows' clock on, as if `seconds` had passed."""
        with self.lock:
            self.clock_offset += seconds

    # ------------------------------------------------------------------------- reading

    def sends(self, api: str | None = None) -> list[Call]:
        """Sends the fake accepted (errcode 0): the messages that reached a phone."""
        with self.lock:
            return [
                c
                for c in self.calls
                if c.endpoint in SEND_ENDPOINTS
                and c.errcode == 0
                and not c.deduped
                and api in (None, c.api)
            ]

    def delivered_counts(self) -> Counter[str]:
        """How often each content reached a phone."""
        return Counter(c.content or "" for c in self.sends())

    def token_fetches(self, api: str | None = None) -> int:
        """Tokens handed out."""
        with self.lock:
            return sum(
                1
                for c in self.calls
                if c.endpoint in TOKEN_ENDPOINTS and c.errcode == 0 and api in (None, c.api)
            )

    def calls_to(self, endpoint: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.endpoint == endpoint]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def wechat_base(self) -> str:
        return f"{self.url}/wechat/cgi-bin/"

    @property
    def wecom_base(self) -> str:
        return f"{self.url}/wecom/cgi-bin/"

    # ---------------------------------------------------------------------- lifecycle

    def start(self) -> FakeWeChat:
        self._server = make_server(
            "127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_KeepAliveHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------------ the API

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def _record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/", 2)
        if len(parts) != 3 or parts[0] not in ("wechat", "wecom") or parts[1] != "cgi-bin":
            return Response("not found", status=404)
        api, endpoint = parts[0], parts[2]
        token = request.args.get("access_token")
        body: dict[str, Any] = {}
        if request.method == "POST":
            body = json.loads(request.get_data(as_text=True) or "{}")
        recipient, content, template_id = _what(endpoint, body)
        call = Call(api, endpoint, recipient, content, token, None, template_id)
        with self.lock:
            down = self._down_calls > 0 or time.monotonic() < self._down_until
            if self._down_calls > 0:
                self._down_calls -= 1
        if down:
            self._record(call)
            return Response("service unavailable", status=503)
        if endpoint in TOKEN_ENDPOINTS:
            return self._token(call)
        refusal = self._check_token(token)
        if refusal is None and endpoint in SEND_ENDPOINTS:
            with self.lock:
                if self._errcodes_once:
                    refusal = (self._errcodes_once.pop(0), "failure arranged by the test")
        if refusal is not None:
            return self._answer(call, {"errcode": refusal[0], "errmsg": refusal[1]})
        if endpoint == "media/get":
            return self._media(call, request.args.get("media_id", ""))
        if endpoint not in SEND_ENDPOINTS:
            return Response("not found", status=404)
        if self.block_marker and content and self.block_marker in content:
            self.blocked.set()
            self.release.wait(timeout=60)
            self._record(call)  # never delivered: the sender may be gone
            return Response("service unavailable", status=503)
        if recipient in self.recipient_errors:
            code, message = self.recipient_errors[recipient]
            return self._answer(call, {"errcode": code, "errmsg": message})
        if endpoint == "message/custom/send" and recipient in self.out_of_window:
            return self._answer(call, {"errcode": 45015, "errmsg": "response out of time limit"})
        result: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if endpoint == "message/send":
            result["invaliduser"] = recipient if recipient in self.invalid_users else ""
            call.deduped = self._wecom_repeat(body)
        if endpoint == "message/template/send":
            call.deduped, result["msgid"] = self._template_repeat(body)
        if self.hang_marker and content and self.hang_marker in content:
            # Delivered now; the answer waits (its caller may be killed meanwhile).
            call.errcode = 0
            self._record(call)
            self.blocked.set()
            self.release.wait(timeout=60)
            return Response(json.dumps(result, ensure_ascii=False), mimetype="application/json")
        return self._answer(call, result)

    def _now(self) -> float:
        return time.monotonic() + self.clock_offset

    def _wecom_repeat(self, body: dict[str, Any]) -> bool:
        """企业微信's duplicate check: the same request JSON within the interval is dropped."""
        if str(body.get("enable_duplicate_check", 0)) != "1":
            return False
        interval = int(body.get("duplicate_check_interval") or WECOM_DUPLICATE_CHECK_DEFAULT)
        interval = min(interval, WECOM_DUPLICATE_CHECK_MAX)
        fingerprint = json.dumps(body, sort_keys=True, ensure_ascii=False)
        with self.lock:
            now = self._now()
            first = self._wecom_delivered.get(fingerprint)
            if first is not None and now - first < interval:
                return True
            self._wecom_delivered[fingerprint] = now
            return False

    def _template_repeat(self, body: dict[str, Any]) -> tuple[bool, int]:
        """One template message per openid + client_msg_id within ten minutes."""
        client_id = body.get("client_msg_id")
        with self.lock:
            now = self._now()
            if client_id:
                key = (str(body.get("touser")), str(client_id))
                first = self._templates_delivered.get(key)
                if first is not None and now - first[0] < TEMPLATE_CLIENT_MSG_ID_SECONDS:
                    return True, first[1]
            msgid = next(self._serial)
            if client_id:
                self._templates_delivered[key] = (now, msgid)
            return False, msgid

    def _answer(self, call: Call, result: dict[str, Any]) -> Response:
        call.errcode = int(result["errcode"])
        self._record(call)
        if self.answer_delay and call.endpoint in SEND_ENDPOINTS:
            time.sleep(self.answer_delay)  # delivered already: the caller may die meanwhile
        return Response(json.dumps(result, ensure_ascii=False), mimetype="application/json")

    def _token(self, call: Call) -> Response:
        token = f"{call.api}-token-{next(self._serial)}"
        with self.lock:
            self._tokens[token] = (call.api, time.time() + self.token_lifetime)
        call.token = token
        result: dict[str, Any] = {"access_token": token, "expires_in": self.token_lifetime}
        if call.api == "wecom":
            result.update(errcode=0, errmsg="ok")
        call.errcode = 0
        self._record(call)
        return Response(json.dumps(result), mimetype="application/json")

    def _check_token(self, token: str | None) -> tuple[int, str] | None:
        with self.lock:
            if self.refuse_all_tokens:
                return 40001, "invalid credential"
            known = self._tokens.get(token or "")
        if known is None:
            return 40001, "invalid credential, access_token is invalid or not latest"
        if known[1] <= time.time():
            return 42001, "access_token expired"
        return None

    def _media(self, call: Call, media_id: str) -> Response:
        call.recipient = media_id
        if media_id not in self.media:
            return self._answer(call, {"errcode": 40007, "errmsg": "invalid media_id"})
        content, content_type = self.media[media_id]
        call.errcode = 0
        self._record(call)
        return Response(
            content,
            content_type=content_type,
            headers={"Content-Disposition": f'attachment; filename="{media_id}.bin"'},
        )


def _what(endpoint: str, body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """Recipient, content and template id of a send."""
    if endpoint == "message/custom/send":
        return body.get("touser"), (body.get("text") or {}).get("content"), None
    if endpoint == "message/template/send":
        content = json.dumps(body.get("data"), ensure_ascii=False, sort_keys=True)
        return body.get("touser"), content, body.get("template_id")
    if endpoint == "message/send":
        return body.get("touser"), (body.get("text") or {}).get("content"), None
    return None, None, None


@contextmanager
def running_fake(**kwargs: Any) -> Iterator[FakeWeChat]:
    """A started fake, stopped at the end."""
    fake = FakeWeChat(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


# ------------------------------------------------------------ helpers for delivery tests


def wechat_settings(settings: Settings, fake: FakeWeChat, **overrides: Any) -> Settings:
    """Test settings with outbound secrets, pointed at the fake, delivering through WeChat."""
    values: dict[str, Any] = {
        "delivery": "wechat",
        "wechat_secret": "wechat-secret",
        "wecom_secret": "wecom-secret",
        "wechat_api_base": fake.wechat_base,
        "wecom_api_base": fake.wecom_base,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


def add_people(
    engine: Engine,
    count_: int,
    *,
    wecom: bool = True,
    openid: bool = False,
    prefix: str = "p",
) -> list[int]:
    """Roster entries in one town, with a 企业微信 userid and/or a 公众号 openid each."""
    with unit_of_work(engine) as session:
        town = session.exec(select(Place).where(Place.name == "大栗港镇")).first()
        if town is None:
            town = add_place(session, "大栗港镇", PlaceKind.town)
        people = []
        for i in range(count_):
            person = Person(
                name=f"{prefix}{i}",
                phone=f"{prefix}-{i}",
                place_id=town.id,
                wecom_userid=f"{prefix}-user-{i}" if wecom else None,
                wechat_openid=f"{prefix}-openid-{i}" if openid else None,
            )
            session.add(person)
            people.append(person)
        session.flush()
        return [p.id for p in people if p.id is not None]


def enqueue_texts(
    engine: Engine,
    person_ids: list[int],
    texts: list[str],
    now: datetime,
    *,
    kind: str = "assigned",
    data: dict[str, Any] | None = None,
) -> list[int]:
    """One outbox message per text, to the people in turn."""
    with unit_of_work(engine) as session:
        ids = []
        for i, text in enumerate(texts):
            message = enqueue(
                session,
                person_id=person_ids[i % len(person_ids)],
                kind=kind,
                text=text,
                now=now,
                data=data,
            )
            assert message is not None and message.id is not None
            ids.append(message.id)
        return ids


def outbox_rows(engine: Engine) -> dict[int, OutboxMessage]:
    """Every outbox row by id, as stored now."""
    with read_session(engine) as session:
        return {m.id: m for m in session.exec(select(OutboxMessage)) if m.id is not None}
