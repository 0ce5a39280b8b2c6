"""WeChat access tokens: one per app, stored centrally, refreshed by one process at a time.

WeChat invalidates the previous token a few minutes after a new one is fetched, so every
process must share one. The token and its expiry live in the `access_token` table (or Redis
when GRIEVANCE_REDIS_URL is set); a refresh happens under a lock — a row lock on PostgreSQL,
SQLite's write lock (BEGIN IMMEDIATE), a Redis lock — and re-reads the stored token first, so a
crowd of processes that all noticed an old token causes one fetch. wechatpy's own handling (the
expiry in process memory, an unbounded retry on 40001) is replaced by client subclasses here:
a refused token causes one refresh and one retry of the call, never a loop.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import wechatpy.enterprise
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select
from wechatpy import WeChatClient
from wechatpy.enterprise.client.api import WeChatMedia as WecomMediaAPI
from wechatpy.exceptions import WeChatClientException

from config.settings import Settings, require_extra
from models.base import utcnow
from models.db import read_session, unit_of_work
from models.outbox import AccessToken

log = logging.getLogger(__name__)

# 40001 invalid credential, 40014 invalid access token, 42001 access token expired.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
REFRESH_AHEAD = timedelta(minutes=5)
HTTP_TIMEOUT_SECONDS = 10.0
REDIS_LOCK_SECONDS = 30  # longer than one token fetch can take (HTTP timeout)


class TokenUnavailable(RuntimeError):
    """No usable access token could be had: WeChat, the network or the store failed."""


@dataclass(frozen=True)
class StoredToken:
    """A token and the moment WeChat stops accepting it."""

    token: str
    expires_at: datetime

    def fresh(self, now: datetime, ahead: timedelta = REFRESH_AHEAD) -> bool:
        """True while the token has more than `ahead` left."""
        return bool(self.token) and self.expires_at - now > ahead


class TokenStore(ABC):
    """Where tokens are shared between processes, with a lock for refreshing them."""

    @abstractmethod
    def read(self, app: str) -> StoredToken | None:
        """The stored token of an app, if any."""

    @abstractmethod
    def refresh(
        self,
        app: str,
        needs_fetch: Callable[[StoredToken | None], bool],
        fetch: Callable[[], StoredToken],
    ) -> StoredToken:
        """Under the app's lock: keep the stored token, or fetch and store a new one."""


class DatabaseTokenStore(TokenStore):
    """Tokens in the `access_token` table; the row (or SQLite's write lock) is the lock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, app: str) -> StoredToken | None:
        """The stored token of an app, if any."""
        with read_session(self.engine) as session:
            row = session.get(AccessToken, app)
            return _stored(row)

    def refresh(
        self,
        app: str,
        needs_fetch: Callable[[StoredToken | None], bool],
        fetch: Callable[[], StoredToken],
    ) -> StoredToken:
        """Lock the app's row, then keep its token or fetch a new one while holding the lock."""
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with unit_of_work(self.engine) as session:
            # The row must exist before it can be locked; a concurrent twin insert is a no-op.
            session.execute(insert(AccessToken).values(app=app, token="").on_conflict_do_nothing())
            stmt = select(AccessToken).where(AccessToken.app == app).with_for_update()
            row = session.exec(stmt).one()
            current = _stored(row)
            if not needs_fetch(current):
                assert current is not None
                return current
            new = fetch()
            row.token = new.token
            row.expires_at = new.expires_at
            row.refreshed_at = utcnow()
            session.add(row)
        return new


def _stored(row: AccessToken | None) -> StoredToken | None:
    if row is None or not row.token or row.expires_at is None:
        return None
    return StoredToken(row.token, row.expires_at)


class RedisTokenStore(TokenStore):
    """Tokens in Redis under `grievance:token:<app>`, refreshed under a Redis lock."""

    def __init__(self, url: str, prefix: str = "grievance") -> None:
        require_extra("redis", "redis", "GRIEVANCE_REDIS_URL")
        import redis  # the `redis` extra, only needed when Redis is configured

        self.redis = redis.Redis.from_url(url, socket_timeout=HTTP_TIMEOUT_SECONDS)
        self.prefix = prefix

    def _key(self, app: str) -> str:
        return f"{self.prefix}:token:{app}"

    def read(self, app: str) -> StoredToken | None:
        """The stored token of an app, if any."""
        raw = self.redis.get(self._key(app))
        if not raw:
            return None
        data = json.loads(raw)
        return StoredToken(data["token"], datetime.fromisoformat(data["expires_at"]))

    def refresh(
        self,
        app: str,
        needs_fetch: Callable[[StoredToken | None], bool],
        fetch: Callable[[], StoredToken],
    ) -> StoredToken:
        """Take the app's Redis lock, then keep its token or fetch a new one."""
        lock = self.redis.lock(
            f"{self.prefix}:token-lock:{app}",
            timeout=REDIS_LOCK_SECONDS,
            blocking_timeout=REDIS_LOCK_SECONDS,
        )
        with lock:
            current = self.read(app)
            if not needs_fetch(current):
                assert current is not None
                return current
            new = fetch()
            ttl = max(1, int((new.expires_at - utcnow()).total_seconds()))
            payload = {"token": new.token, "expires_at": new.expires_at.isoformat()}
            self.redis.set(self._key(app), json.dumps(payload), ex=ttl)
            return new


def token_store(engine: Engine, settings: Settings) -> TokenStore:
    """Redis when GRIEVANCE_REDIS_URL is set, else the database."""
    if settings.redis_url:
        return RedisTokenStore(settings.redis_url)
    return DatabaseTokenStore(engine)


class AccessTokens:
    """One app's token, read through a small in-process cache from the shared store."""

    def __init__(
        self,
        store: TokenStore,
        app: str,
        fetch: Callable[[], StoredToken],
        *,
        clock: Callable[[], datetime] = utcnow,
        ahead: timedelta = REFRESH_AHEAD,
    ) -> None:
        self.store = store
        self.app = app
        self._fetch = fetch
        self.clock = clock
        self.ahead = ahead
        self._cached: StoredToken | None = None
        self.fetches = 0  # fetches this instance made (the benchmark and logs show it)

    def get(self) -> str:
        """A token with more than a few minutes left, refreshing it first when needed."""
        now = self.clock()
        if self._cached is not None and self._cached.fresh(now, self.ahead):
            return self._cached.token
        try:
            stored = self.store.read(self.app)
        except Exception as exc:
            raise TokenUnavailable(f"cannot read the token of {self.app}: {exc}") from exc
        if stored is not None and stored.fresh(now, self.ahead):
            self._cached = stored
            return stored.token
        return self.refresh(stale=None)

    def refresh(self, stale: str | None) -> str:
        """Replace `stale` (a token WeChat refused), or an expiring token when `stale` is None.

        Another process may have replaced it already: then its token is used and nothing is
        fetched, so many callers refused at once still cause one fetch.
        """
        now = self.clock()

        def needs_fetch(current: StoredToken | None) -> bool:
            if current is None or not current.fresh(now, self.ahead):
                return True
            return stale is not None and current.token == stale

        def fetch() -> StoredToken:
            self.fetches += 1
            log.info("fetching a new access token for %s", self.app)
            return self._fetch()

        try:
            token = self.store.refresh(self.app, needs_fetch, fetch)
        except Exception as exc:
            self._cached = None
            raise TokenUnavailable(f"cannot refresh the token of {self.app}: {exc}") from exc
        self._cached = token
        return token.token


def _fetched(result: dict[str, Any], now: datetime) -> StoredToken:
    expires_in = int(result.get("expires_in") or 7200)
    return StoredToken(str(result["access_token"]), now + timedelta(seconds=expires_in))


class _SharedTokenClient:
    """Mixin for wechatpy clients: the token comes from AccessTokens; refusal → one retry."""

    tokens: AccessTokens
    _http: requests.Session
    timeout: float | None

    @property
    def access_token(self) -> str:
        """The shared token (wechatpy reads this for every call)."""
        return self.tokens.get()

    def fetch_access_token(self) -> dict[str, Any]:
        """wechatpy's hook, kept for callers that use it: a locked, shared refresh."""
        return {"access_token": self.tokens.refresh(stale=None)}

    def _token_request(self, url: str, params: dict[str, str]) -> StoredToken:
        now = utcnow()
        try:
            response = self._http.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            # Its text holds the URL with the AppSecret in it; it must not reach a log or a row.
            raise requests.ConnectionError(f"token request failed: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise WeChatClientException(None, f"HTTP {response.status_code} fetching a token")
        result = response.json()
        if int(result.get("errcode") or 0) != 0:
            raise WeChatClientException(result["errcode"], result.get("errmsg", ""))
        return _fetched(result, now)

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        first = dict(kwargs, params=dict(kwargs.get("params") or {}))
        try:
            return super()._request(method, url_or_endpoint, **first)  # type: ignore[misc]
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            refused = first["params"].get("access_token")
            log.info(
                "WeChat refused the token of %s (%s); one refresh", self.tokens.app, exc.errcode
            )
        self.tokens.refresh(stale=refused)
        again = dict(kwargs, params=dict(kwargs.get("params") or {}))
        return super()._request(method, url_or_endpoint, **again)  # type: ignore[misc]


class WechatApiClient(_SharedTokenClient, WeChatClient):
    """A 公众号 client on a configurable API base, with the shared token and a bounded retry."""

    def __init__(self, appid: str, secret: str, api_base: str, store: TokenStore) -> None:
        super().__init__(appid, secret, timeout=HTTP_TIMEOUT_SECONDS, auto_retry=False)
        self.API_BASE_URL = _with_slash(api_base)
        self.tokens = AccessTokens(store, f"wechat:{appid}", self._fetch_token)

    def _fetch_token(self) -> StoredToken:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        return self._token_request(self.API_BASE_URL + "token", params)


class _WecomMedia(WecomMediaAPI):
    # wechatpy downloads 企业微信 media from a hard-coded host without checking errors.
    def download(self, media_id: str) -> Any:
        """The file (a requests Response) of a temporary media id, through the client's base."""
        return self._get("media/get", params={"media_id": media_id})


class WecomApiClient(_SharedTokenClient, wechatpy.enterprise.WeChatClient):
    """A 企业微信 app client on a configurable API base, with the shared token."""

    media = _WecomMedia()

    def __init__(
        self, corp_id: str, secret: str, agent_id: str, api_base: str, store: TokenStore
    ) -> None:
        super().__init__(corp_id, secret, timeout=HTTP_TIMEOUT_SECONDS, auto_retry=False)
        self.API_BASE_URL = _with_slash(api_base)
        self.agent_id = agent_id
        self.tokens = AccessTokens(store, f"wecom:{corp_id}:{agent_id}", self._fetch_token)

    def _fetch_token(self) -> StoredToken:
        params = {"corpid": self.corp_id, "corpsecret": self.secret}
        return self._token_request(self.API_BASE_URL + "gettoken", params)


def _with_slash(base: str) -> str:
    return base if base.endswith("/") else base + "/"


@dataclass(frozen=True)
class WeChatClients:
    """The API clients this deployment has credentials for (None where it has none)."""

    wechat: WechatApiClient | None = None
    wecom: WecomApiClient | None = None

    def for_channel(self, channel: str) -> WechatApiClient | WecomApiClient | None:
        """The client for an inbound channel name ("wechat" or "wecom")."""
        return self.wecom if channel == "wecom" else self.wechat if channel == "wechat" else None


def build_clients(engine: Engine, settings: Settings) -> WeChatClients:
    """Clients for every app with outbound credentials, sharing one token store."""
    store = token_store(engine, settings)
    wechat = wecom = None
    if settings.wechat_appid and settings.wechat_secret:
        wechat = WechatApiClient(
            settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base, store
        )
    if settings.wecom_corp_id and settings.wecom_secret and settings.wecom_agent_id:
        wecom = WecomApiClient(
            settings.wecom_corp_id,
            settings.wecom_secret,
            settings.wecom_agent_id,
            settings.wecom_api_base,
            store,
        )
    return WeChatClients(wechat=wechat, wecom=wecom)
