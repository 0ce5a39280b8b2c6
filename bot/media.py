"""Photos and voice notes of tickets, fetched from WeChat by MediaId into the instance folder.

WeChat keeps media three days, so each image or voice attachment is downloaded soon after it
arrives, into `<instance>/media/<ticket>/<attachment>-<kind>.<ext>`, and linked by
`Attachment.file_path` (relative to the instance folder). A failed download is retried with the
same backoff as deliveries; attachments are claimed like outbox messages (a short lease, SKIP
LOCKED on PostgreSQL) so several workers never fetch the same file.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, and_, or_, update
from sqlmodel import col, select
from wechatpy.exceptions import WeChatClientException

from bot.access_token import TokenUnavailable, WeChatClients
from bot.channels import PERMANENT_ERRORS, retry_delay
from config.settings import Settings
from models.db import unit_of_work
from models.ticket import Attachment

log = logging.getLogger(__name__)

MEDIA_KINDS = ("image", "voice")
MEDIA_KEPT_BY_WECHAT = timedelta(days=3)
MAX_MEDIA_BYTES = 20 * 1024 * 1024
GAVE_UP = "gave up: "
# 40007 invalid media_id: WeChat no longer has it (or never had).
PERMANENT_MEDIA_ERRORS = {**PERMANENT_ERRORS, 40007: "invalid media_id"}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/amr": ".amr",
    "voice/amr": ".amr",
    "audio/speex": ".speex",
    "voice/speex": ".speex",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/silk": ".silk",
}


@dataclass
class MediaCounts:
    """What one pass over due attachments did."""

    claimed: int = 0
    downloaded: int = 0
    retried: int = 0
    failed: int = 0  # given up: permanent errors, too many attempts, or expired at WeChat


@dataclass(frozen=True)
class _Claimed:
    id: int
    ticket_id: int
    kind: str
    channel: str
    media_id: str
    created_at: datetime
    attempts: int


class MediaFetcher:
    """Downloads due image and voice attachments through the WeChat clients."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clients: WeChatClients,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clients = clients
        self.rng = rng or random.Random()  # jitter, not secrecy
        self.channels = [
            name for name in ("wechat", "wecom") if clients.for_channel(name) is not None
        ]

    def claim(self, now: datetime) -> list[_Claimed]:
        """Lease a batch of attachments whose media is due for a (re)try."""
        if not self.channels:
            return []
        lease_until = now + timedelta(seconds=self.settings.worker_lease_seconds)
        with unit_of_work(self.engine) as session:
            stmt = (
                select(Attachment)
                .where(
                    col(Attachment.kind).in_(MEDIA_KINDS),
                    col(Attachment.channel).in_(self.channels),
                    col(Attachment.media_id).is_not(None),
                    col(Attachment.file_path).is_(None),
                    Attachment.download_attempts < self.settings.worker_max_attempts,
                    or_(
                        # New: never tried. Given up: no next try but an error.
                        and_(
                            col(Attachment.next_download_at).is_(None),
                            col(Attachment.download_error).is_(None),
                        ),
                        col(Attachment.next_download_at) <= now,
                    ),
                )
                .order_by(col(Attachment.id))
                .limit(self.settings.worker_batch_size)
            )
            if self.engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            claimed = []
            for row in session.exec(stmt):
                assert row.id is not None and row.media_id is not None
                row.download_attempts += 1
                row.next_download_at = lease_until  # an expired lease makes it due again
                session.add(row)
                claimed.append(
                    _Claimed(
                        row.id,
                        row.ticket_id,
                        row.kind,
                        row.channel,
                        row.media_id,
                        row.created_at,
                        row.download_attempts,
                    )
                )
        return claimed

    def download_due(self, now: datetime) -> MediaCounts:
        """Fetch every due attachment's media and record where it went, or when to try again."""
        counts = MediaCounts()
        for item in self.claim(now):
            counts.claimed += 1
            outcome = self._download(item, now)
            setattr(counts, outcome, getattr(counts, outcome) + 1)
        return counts

    def _download(self, item: _Claimed, now: datetime) -> str:
        if now - item.created_at > MEDIA_KEPT_BY_WECHAT:
            return self._give_up(item, "media expired at WeChat (kept 3 days)")
        client = self.clients.for_channel(item.channel)
        assert client is not None
        try:
            response = client.media.download(item.media_id)
        except WeChatClientException as exc:
            code = int(exc.errcode) if exc.errcode is not None else None
            if code in PERMANENT_MEDIA_ERRORS:
                return self._give_up(item, f"errcode {code}: {PERMANENT_MEDIA_ERRORS[code]}")
            return self._retry(item, now, f"errcode {code}: {exc.errmsg}")
        except TokenUnavailable as exc:
            return self._retry(item, now, f"{type(exc).__name__}: {exc}")
        except requests.RequestException as exc:
            # The text of a requests error holds the URL, access_token and all: name it only.
            return self._retry(item, now, f"network: {type(exc).__name__}")
        if not isinstance(response, requests.Response):
            return self._retry(item, now, f"unexpected answer: {str(response)[:200]}")
        content = response.content
        if not content:
            return self._retry(item, now, "empty file")
        if len(content) > MAX_MEDIA_BYTES:
            return self._give_up(item, f"file of {len(content)} bytes is over the limit")
        relative = self._store(item, content, response)
        stmt = (
            update(Attachment)
            .where(
                col(Attachment.id) == item.id,
                col(Attachment.download_attempts) == item.attempts,
            )
            .values(
                file_path=relative, downloaded_at=now, next_download_at=None, download_error=None
            )
        )
        with unit_of_work(self.engine) as session:
            session.execute(stmt)
        log.info("downloaded %s of ticket %s into %s", item.kind, item.ticket_id, relative)
        return "downloaded"

    def _store(self, item: _Claimed, content: bytes, response: requests.Response) -> str:
        extension = _extension(response, item.kind)
        relative = Path("media") / str(item.ticket_id) / f"{item.id}-{item.kind}{extension}"
        target = self.settings.instance_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader (or a worker killed mid-write) never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return relative.as_posix()

    def _retry(self, item: _Claimed, now: datetime, reason: str) -> str:
        if item.attempts >= self.settings.worker_max_attempts:
            return self._give_up(item, f"{item.attempts} attempts failed, last: {reason}")
        log.warning("download of attachment %s failed (%s); will retry", item.id, reason)
        self._mark(item, next_download_at=now + retry_delay(item.attempts, self.rng), error=reason)
        return "retried"

    def _give_up(self, item: _Claimed, reason: str) -> str:
        log.warning("download of attachment %s abandoned: %s", item.id, reason)
        self._mark(item, next_download_at=None, error=GAVE_UP + reason)
        return "failed"

    def _mark(self, item: _Claimed, *, next_download_at: datetime | None, error: str) -> None:
        values: dict[str, Any] = {
            "next_download_at": next_download_at,
            "download_error": error[:512],
        }
        stmt = (
            update(Attachment)
            .where(
                col(Attachment.id) == item.id,
                col(Attachment.download_attempts) == item.attempts,
            )
            .values(**values)
        )
        with unit_of_work(self.engine) as session:
            session.execute(stmt)


def _extension(response: requests.Response, kind: str) -> str:
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    disposition = response.headers.get("Content-Disposition", "")
    if "filename=" in disposition:
        suffix = Path(disposition.split("filename=")[-1].strip("\"' ")).suffix.lower()
        if suffix.isascii() and 1 < len(suffix) <= 6 and suffix[1:].isalnum():
            return suffix
    return ".jpg" if kind == "image" else ".amr"
