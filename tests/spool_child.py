"""Appends to a spool from a child process or thread (kept small: spawned children import it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.spool import Spool


def append_many(folder: str, name: str, count: int, barrier: Any) -> None:
    """`count` callbacks of its own, each followed by a retry of a callback everyone shares."""
    spool = Spool(Path(folder), limit=100_000)
    barrier.wait()
    for i in range(count):
        now = datetime.now(UTC)
        spool.add(
            channel="wechat",
            sender=name,
            key=f"msg:{i}",
            xml=f"<xml><n>{name}-{i}</n></xml>",
            received_at=now,
            reason="test",
        )
        spool.add(
            channel="wechat",
            sender="shared",
            key=f"msg:{i}",
            xml=f"<xml><n>shared-{i}</n></xml>",
            received_at=now,
            reason="test",
        )
