"""Production serving: several gunicorn worker processes behind one address, as a county runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.phone import Phone, message_xml, reply_text, text_fields
from config.settings import Settings
from models.inbound import InboundMessage
from models.ticket import Ticket
from tests.bot.test_cli import clean_env, free_port, wait_for_health
from tests.town import build_small_town

GUNICORN = Path(sys.executable).parent / "gunicorn"


def count(engine: Engine, table: type[Ticket] | type[InboundMessage]) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


@pytest.mark.skipif(not shutil.which(str(GUNICORN)), reason="gunicorn is not installed")
def test_wechat_retries_across_gunicorn_workers_make_one_ticket(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    town = build_small_town(engine)
    port = free_port()
    env = clean_env(
        tmp_path / "instance",
        GRIEVANCE_ENV="development",
        GRIEVANCE_DATABASE_URL=settings.resolved_database_url,
        GRIEVANCE_WECHAT_TOKEN=settings.wechat_token or "",
        GRIEVANCE_WECHAT_AES_KEY=settings.wechat_aes_key or "",
        GRIEVANCE_WECHAT_APPID=settings.wechat_appid or "",
        GRIEVANCE_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [str(GUNICORN), "--workers", "3", "--bind", f"127.0.0.1:{port}", "bot.wsgi:app"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_for_health(port)
        phone = Phone(settings)
        fields = text_fields(town.openid("reporter"), "3组的路灯坏了一个星期了，晚上看不见路")
        fields["MsgId"] = "7310000000000000001"
        signed = phone.sign(message_xml(fields))
        url = f"http://127.0.0.1:{port}{phone.path}"
        barrier = threading.Barrier(4)
        replies: list[str] = []

        def deliver() -> None:
            # WeChat retries when the answer is slow: the same body, the same MsgId, at once.
            barrier.wait()
            response = requests.post(url, params=signed.query, data=signed.body, timeout=30)
            assert response.status_code == 200
            replies.append(reply_text(phone.open_reply(signed, response.text)))

        threads = [threading.Thread(target=deliver) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # A retry seconds later, after the first answer went out, is answered the same.
        deliver_late = requests.post(url, params=signed.query, data=signed.body, timeout=30)
        replies.append(reply_text(phone.open_reply(signed, deliver_late.text)))
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert len(replies) == 5 and len(set(replies)) == 1, replies
    assert "#" in replies[0]  # the ticket's number, told to the 邻长
    assert count(engine, Ticket) == 1
    assert count(engine, InboundMessage) == 1
