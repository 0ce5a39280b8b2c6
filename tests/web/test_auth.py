"""Signing in without passwords: signed links, one-time codes, 网页授权, 企业微信 OAuth, CSRF."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from bot.app import create_app
from config.settings import Settings
from models.base import utcnow
from models.outbox import OutboxMessage
from models.signin import MAX_CODES_PER_HOUR, MAX_TRIES, SignInCode
from tests.town import SmallTown
from web.links import sign_in_token, sign_in_url

CODE = re.compile(r"验证码：(\d{6})")


@pytest.fixture
def web_app(web_settings: Settings, engine: Engine, town: SmallTown) -> Flask:
    return create_app(web_settings, engine=engine)


@pytest.fixture
def web(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


def form_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def codes_sent(engine: Engine, person_id: int | None) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.person_id == person_id, OutboxMessage.kind == "sign_in_code"
            )
        )
        return [CODE.search(m.text).group(1) for m in rows]  # type: ignore[union-attr]


# ---------------------------------------------------------------- CSRF and cookies


def test_a_form_without_its_csrf_token_is_refused(
    web: FlaskClient, engine: Engine, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    response = web.post("/login", data={"phone": dispatcher.phone})
    assert response.status_code == 400
    assert "表单已失效" in response.get_data(as_text=True)
    wrong = web.post("/login", data={"phone": dispatcher.phone, "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert codes_sent(engine, dispatcher.id) == []  # nothing was sent
    token = form_token(web, "/login")
    ok = web.post("/login", data={"phone": dispatcher.phone, "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"].startswith("/login/code")
    assert len(codes_sent(engine, dispatcher.id)) == 1


def test_session_cookie_is_httponly_lax_and_secure_behind_https(
    web_settings: Settings, engine: Engine, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    for public, secure in (("http://127.0.0.1:8500", False), ("https://town.example", True)):
        config = web_settings.model_copy(update={"public_url": public})
        client = create_app(config, engine=engine).test_client()
        token = sign_in_token(config, dispatcher.id, "/", utcnow())
        response = client.get(f"/l/{token}")
        assert response.status_code == 302
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


# ---------------------------------------------------------------- signed links


def test_a_link_signs_in_and_an_old_or_forged_one_does_not(
    web: FlaskClient, web_settings: Settings, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    assert web.get("/").status_code == 302  # not signed in: sent to sign in
    old = sign_in_token(web_settings, dispatcher.id, "/", utcnow() - timedelta(hours=73))
    assert web.get(f"/l/{old}").status_code == 403
    forged = sign_in_token(
        web_settings.model_copy(update={"web_secret": "another"}), dispatcher.id, "/", utcnow()
    )
    assert web.get(f"/l/{forged}").status_code == 403
    short = sign_in_token(
        web_settings, dispatcher.id, "/", utcnow() - timedelta(minutes=20), timedelta(minutes=15)
    )
    assert web.get(f"/l/{short}").status_code == 403
    assert web.get("/").status_code == 302
    good = sign_in_token(web_settings, dispatcher.id, "/", utcnow())
    response = web.get(f"/l/{good}")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert web.get("/").status_code == 200


def test_a_link_is_the_same_on_every_attempt_of_one_notice(web_settings: Settings) -> None:
    issued = utcnow()
    assert sign_in_url(web_settings, 5, "/tickets/1", issued) == sign_in_url(
        web_settings, 5, "/tickets/1", issued
    )
    assert sign_in_url(web_settings, 5, "/tickets/1", issued) != sign_in_url(
        web_settings, 6, "/tickets/1", issued
    )


def test_signing_out_ends_the_session(
    web: FlaskClient, web_settings: Settings, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    web.get(f"/l/{sign_in_token(web_settings, dispatcher.id, '/', utcnow())}")
    token = form_token(web, "/")
    assert web.post("/logout", data={"csrf_token": token}).status_code == 302
    assert web.get("/").status_code == 302


# ---------------------------------------------------------------- one-time codes


def test_a_code_sent_to_wechat_signs_a_dispatcher_in_once(
    web: FlaskClient, engine: Engine, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    token = form_token(web, "/login")
    web.post("/login?next=/", data={"phone": dispatcher.phone, "csrf_token": token})
    (code,) = codes_sent(engine, dispatcher.id)
    wrong = "000000" if code != "000000" else "111111"
    refused = web.post("/login/code?next=/", data={"code": wrong, "csrf_token": token})
    assert refused.status_code == 400 and "验证码不对" in refused.get_data(as_text=True)
    accepted = web.post("/login/code?next=/", data={"code": code, "csrf_token": token})
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/"
    assert web.get("/").status_code == 200
    # Spent: a second use fails, even by someone else who saw it.
    other = web.application.test_client()
    other_token = form_token(other, "/login")
    other.post("/login", data={"phone": dispatcher.phone, "csrf_token": other_token})
    assert (
        other.post("/login/code", data={"code": code, "csrf_token": other_token}).status_code == 400
    )


def test_guessing_spends_the_code(web: FlaskClient, engine: Engine, town: SmallTown) -> None:
    dispatcher = town.people["dispatcher"]
    token = form_token(web, "/login")
    web.post("/login", data={"phone": dispatcher.phone, "csrf_token": token})
    (code,) = codes_sent(engine, dispatcher.id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(MAX_TRIES):
        web.post("/login/code", data={"code": wrong, "csrf_token": token})
    assert web.post("/login/code", data={"code": code, "csrf_token": token}).status_code == 400
    with Session(engine) as session:
        (row,) = session.exec(select(SignInCode))
        assert row.used_at is not None and row.tries == MAX_TRIES


def test_no_code_for_a_phone_off_the_roster_or_a_neighbour_head(
    web: FlaskClient, engine: Engine, town: SmallTown
) -> None:
    reporter = town.people["reporter"]
    token = form_token(web, "/login")
    for phone in ("13900000000", reporter.phone):
        response = web.post("/login", data={"phone": phone, "csrf_token": token})
        assert response.status_code == 302  # the same answer: the page does not tell who is there
    with Session(engine) as session:
        assert not list(
            session.exec(select(OutboxMessage).where(OutboxMessage.kind == "sign_in_code"))
        )


# ---------------------------------------------------------------- WeChat's own sign-in


class FakeOAuth:
    """网页授权 and 企业微信 OAuth endpoints on loopback, answering for known codes."""

    def __init__(self) -> None:
        self.openids: dict[str, str] = {}
        self.userids: dict[str, str] = {}
        self.calls: list[str] = []
        self.server = make_server("127.0.0.1", 0, self.wsgi)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.calls.append(request.path)
        code = request.args.get("code", "")
        if request.path == "/wechat/sns/oauth2/access_token" and code in self.openids:
            body: dict[str, Any] = {
                "access_token": "web-token",
                "expires_in": 7200,
                "refresh_token": "refresh",
                "openid": self.openids[code],
                "scope": "snsapi_base",
            }
        elif request.path == "/wecom/cgi-bin/gettoken":
            body = {"errcode": 0, "access_token": "corp-token", "expires_in": 7200}
        elif request.path == "/wecom/cgi-bin/user/getuserinfo" and code in self.userids:
            body = {"errcode": 0, "UserId": self.userids[code]}
        else:
            body = {"errcode": 40029, "errmsg": "invalid code"}
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)


@pytest.fixture
def oauth() -> Iterator[FakeOAuth]:
    fake = FakeOAuth()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def oauth_client(
    web_settings: Settings, engine: Engine, town: SmallTown, oauth: FakeOAuth
) -> FlaskClient:
    config = web_settings.model_copy(
        update={
            "wechat_secret": "wechat-secret",
            "wecom_secret": "wecom-secret",
            "wechat_api_base": f"{oauth.url}/wechat/cgi-bin/",
            "wecom_api_base": f"{oauth.url}/wecom/cgi-bin/",
        }
    )
    return create_app(config, engine=engine).test_client()


def _state_of(location: str) -> str:
    query = parse_qs(urlparse(location.replace("#wechat_redirect", "")).query)
    return query["state"][0]


def test_wechat_browser_goes_through_snsapi_base_to_the_bound_person(
    oauth_client: FlaskClient, oauth: FakeOAuth, town: SmallTown
) -> None:
    wechat = {"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"}
    first = oauth_client.get("/", headers=wechat)
    assert first.headers["Location"] == "/oauth/wechat?next=/"
    start = oauth_client.get("/oauth/wechat?next=/", headers=wechat)
    location = start.headers["Location"]
    assert location.startswith(
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wxtestappid000001"
    )
    assert "scope=snsapi_base" in location
    state = _state_of(location)
    oauth.openids["code-1"] = town.openid("reporter")
    done = oauth_client.get(f"/oauth/wechat?code=code-1&state={state}&next=/", headers=wechat)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "/wechat/sns/oauth2/access_token" in oauth.calls
    page = oauth_client.get("/", headers=wechat).get_data(as_text=True)
    assert "刘邻长" in page


def test_wechat_sign_in_refuses_a_wrong_state_and_an_unbound_openid(
    oauth_client: FlaskClient, oauth: FakeOAuth
) -> None:
    location = oauth_client.get("/oauth/wechat?next=/").headers["Location"]
    oauth.openids["code-2"] = "o-nobody"
    assert oauth_client.get("/oauth/wechat?code=code-2&state=forged").status_code == 403
    location = oauth_client.get("/oauth/wechat?next=/").headers["Location"]
    unbound = oauth_client.get(f"/oauth/wechat?code=code-2&state={_state_of(location)}")
    assert unbound.status_code == 403 and "绑定" in unbound.get_data(as_text=True)
    location = oauth_client.get("/oauth/wechat?next=/").headers["Location"]
    bad = oauth_client.get(f"/oauth/wechat?code=unknown&state={_state_of(location)}")
    assert bad.status_code == 403


def test_wecom_browser_signs_a_cadre_in_by_userid(
    oauth_client: FlaskClient, oauth: FakeOAuth, town: SmallTown
) -> None:
    wxwork = {"User-Agent": "Mozilla/5.0 MicroMessenger/8.0 wxwork/4.1"}
    assert oauth_client.get("/tickets/1", headers=wxwork).headers["Location"] == (
        "/oauth/wecom?next=/tickets/1"
    )
    location = oauth_client.get("/oauth/wecom?next=/", headers=wxwork).headers["Location"]
    assert location.startswith(
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wwtestcorp000001"
    )
    cadre = town.people["cadre:张家村"]
    oauth.userids["code-3"] = cadre.wecom_userid or ""
    done = oauth_client.get(f"/oauth/wecom?code=code-3&state={_state_of(location)}&next=/")
    assert done.status_code == 302
    assert "张支书" in oauth_client.get("/").get_data(as_text=True)


def test_sign_in_never_sends_people_to_another_site(
    web: FlaskClient, web_settings: Settings, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    token = sign_in_token(web_settings, dispatcher.id, "//evil.example/", utcnow())
    assert web.get(f"/l/{token}").status_code == 403
    page = web.get("/login?next=//evil.example/").get_data(as_text=True)
    assert "evil" not in page


def test_at_most_five_codes_an_hour_reach_a_wechat(
    web: FlaskClient, engine: Engine, town: SmallTown
) -> None:
    dispatcher = town.people["dispatcher"]
    token = form_token(web, "/login")
    for _ in range(MAX_CODES_PER_HOUR + 2):
        response = web.post("/login", data={"phone": dispatcher.phone, "csrf_token": token})
        assert response.status_code == 302  # the page looks the same either way
    codes = codes_sent(engine, dispatcher.id)
    assert len(codes) == MAX_CODES_PER_HOUR
    # Only the latest code works.
    if codes[0] != codes[-1]:
        assert (
            web.post("/login/code", data={"code": codes[0], "csrf_token": token}).status_code == 400
        )
    assert web.post("/login/code", data={"code": codes[-1], "csrf_token": token}).status_code == 302
    fresh = web.application.test_client()
    fresh_token = form_token(fresh, "/login")
    fresh.post("/login", data={"phone": dispatcher.phone, "csrf_token": fresh_token})
    assert len(codes_sent(engine, dispatcher.id)) == MAX_CODES_PER_HOUR  # still no sixth
