"""Signing in without passwords: a signed link, WeChat's own sign-in, or a code sent to WeChat."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

import requests
from flask import Blueprint, abort, redirect, render_template, request, session
from sqlmodel import Session, select
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from bot.access_token import TokenUnavailable, build_clients
from models.db import read_session, unit_of_work
from models.outbox import enqueue
from models.person import HANDLER_ROLES, Person, PersonRole, person_for_sender
from models.signin import issue_code, redeem_code
from web import texts
from web.identity import check_csrf, engine, now, safe_target, settings, sign_in, sign_out
from web.links import public_base, read_sign_in_token, web_secret

log = logging.getLogger(__name__)
blueprint = Blueprint("web_auth", __name__, template_folder="templates")
blueprint.before_request(check_csrf)  # every form of the pages carries its token
OAUTH_TIMEOUT_SECONDS = 5
STATE_KEY = "oauth_state"
PENDING_KEY = "pending_person"


def _message(title: str, text: str, status: int = 200) -> Any:
    return render_template("message.html", title=title, text=text), status


@blueprint.get("/l/<token>")
def link(token: str) -> Any:
    """A notice's link: sign its person in and go where it points."""
    found = read_sign_in_token(settings(), token, now())
    if found is None:
        return _message(texts.LOGIN_TITLE, texts.LINK_EXPIRED, 403)
    person_id, target = found
    with read_session(engine()) as db:
        person = db.get(Person, person_id)
        if person is None or not person.active:
            return _message(texts.LOGIN_TITLE, texts.LINK_EXPIRED, 403)
        sign_in(person)
    return redirect(target)


@blueprint.post("/logout")
def logout() -> Any:
    sign_out()
    return redirect("/login")


# ---------------------------------------------------------------- a code sent to WeChat
def _handler_with_phone(db: Session, phone: str) -> Person | None:
    """An active handler (not a 邻长) on the roster with this phone and a bound WeChat."""
    person = db.exec(select(Person).where(Person.phone == phone, Person.active == True)).first()  # noqa: E712
    if person is None or not (person.wechat_openid or person.wecom_userid):
        return None
    roles = set(db.exec(select(PersonRole.role).where(PersonRole.person_id == person.id)))
    return person if roles & {r.value for r in HANDLER_ROLES} else None


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Desktop sign-in, step 1: a phone number; a code goes to that person's WeChat."""
    target = safe_target(request.args.get("next"))
    if request.method == "GET":
        return render_template("login.html", target=target)
    phone = (request.form.get("phone") or "").strip()
    config = settings()
    with unit_of_work(engine()) as db:
        person = _handler_with_phone(db, phone) if phone.isdigit() else None
        code = (
            issue_code(db, person.id, web_secret(config), now()) if person and person.id else None
        )
        if person is not None and code is not None:
            enqueue(
                db,
                person_id=person.id,
                kind="sign_in_code",
                text=texts.CODE_MESSAGE.format(code=code),
                now=now(),
            )
    # The same answer either way, and only what was typed in the cookie: the page must not
    # tell who is on the roster.
    session[PENDING_KEY] = phone
    return redirect(f"/login/code?next={quote(target, safe='/')}")


@blueprint.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """Desktop sign-in, step 2: the code from WeChat."""
    target = safe_target(request.args.get("next"))
    if request.method == "GET":
        return render_template("code.html", target=target, wrong=False)
    phone = session.get(PENDING_KEY)
    code = (request.form.get("code") or "").strip()
    config = settings()
    with unit_of_work(engine()) as db:
        person = _handler_with_phone(db, phone) if isinstance(phone, str) and phone else None
        if (
            person is not None
            and person.id is not None
            and redeem_code(db, person.id, code, web_secret(config), now())
        ):
            sign_in(person)
            return redirect(target)
    return render_template("code.html", target=target, wrong=True), 400


# ---------------------------------------------------------------- WeChat's own sign-in
class _OAuth(WeChatOAuth):
    """wechatpy's 网页授权 with a timeout and the API base of this deployment (fakes in tests)."""

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", OAUTH_TIMEOUT_SECONDS)
        return super()._request(method, url_or_endpoint, **kwargs)


def _callback_url(path: str, target: str) -> str:
    return f"{public_base(settings())}{path}?next={quote(target, safe='/')}"


def _oauth_client(target: str) -> _OAuth:
    config = settings()
    client = _OAuth(
        config.wechat_appid, config.wechat_secret, _callback_url("/oauth/wechat", target)
    )
    # wechat_api_base is ".../cgi-bin/"; 网页授权 lives beside it, under "sns/".
    client.API_BASE_URL = config.wechat_api_base.rstrip("/").removesuffix("cgi-bin") or "/"
    return client


def _start(authorize: str) -> Any:
    return redirect(authorize)


def _new_state() -> str:
    state = secrets.token_urlsafe(16)
    session[STATE_KEY] = state
    return state


def _state_ok() -> bool:
    expected = session.pop(STATE_KEY, None)
    given = request.args.get("state", "")
    return isinstance(expected, str) and secrets.compare_digest(expected, given)


def _finish(channel: str, identity: str | None, target: str) -> Any:
    if not identity:
        return _message(texts.LOGIN_TITLE, texts.OAUTH_FAILED, 403)
    with read_session(engine()) as db:
        person = person_for_sender(db, channel, identity)
        if person is None:
            return _message(texts.LOGIN_TITLE, texts.NOT_BOUND, 403)
        sign_in(person)
    return redirect(target)


@blueprint.get("/oauth/wechat")
def oauth_wechat() -> Any:
    """公众号 网页授权 (snsapi_base): WeChat sends back a code, exchanged for the openid."""
    config = settings()
    if not (config.wechat_appid and config.wechat_secret):
        abort(404)
    target = safe_target(request.args.get("next"))
    client = _oauth_client(target)
    code = request.args.get("code")
    if not code:
        client.state = _new_state()
        return _start(client.authorize_url)
    if not _state_ok():
        return _message(texts.LOGIN_TITLE, texts.OAUTH_FAILED, 403)
    try:
        result = client.fetch_access_token(code)
    except (WeChatOAuthException, requests.RequestException, KeyError, ValueError) as exc:
        log.warning("wechat web sign-in (snsapi_base) failed: %s", type(exc).__name__)
        return _message(texts.LOGIN_TITLE, texts.OAUTH_FAILED, 403)
    return _finish("wechat", result.get("openid"), target)


@blueprint.get("/oauth/wecom")
def oauth_wecom() -> Any:
    """企业微信 OAuth: the code is exchanged (with the app's token) for the member's userid."""
    target = safe_target(request.args.get("next"))
    client = build_clients(engine(), settings()).wecom
    if client is None:
        abort(404)
    code = request.args.get("code")
    if not code:
        return _start(
            client.oauth.authorize_url(_callback_url("/oauth/wecom", target), _new_state())
        )
    if not _state_ok():
        return _message(texts.LOGIN_TITLE, texts.OAUTH_FAILED, 403)
    try:
        result = client.oauth.get_user_info(code)
    except (WeChatClientException, TokenUnavailable, requests.RequestException) as exc:
        log.warning("wecom web sign-in failed: %s", type(exc).__name__)
        return _message(texts.LOGIN_TITLE, texts.OAUTH_FAILED, 403)
    return _finish("wecom", result.get("UserId") or result.get("userid"), target)
