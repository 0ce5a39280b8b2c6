"""The 公众号's 消息加解密方式 (GRIEVANCE_WECHAT_MODE): what each mode lets in, as attackers try.

`signature` covers only token, timestamp and nonce, never the body: whoever saw one callback URL
holds a signature good for any body during the clock-skew window. Safe and compatible mode must
therefore take nothing but an `<Encrypt>` verified by msg_signature.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import xmltodict
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.app import create_app
from bot.phone import Phone, SignedRequest, message_xml, reply_text, text_fields
from config.settings import ProductionConfigError, Settings, get_settings
from demo.town import DemoTown
from handlers import texts
from models.inbound import InboundMessage
from models.ticket import Ticket, TicketEvent, TicketState
from tests.builders import post, say

pytest_plugins = ["tests.demo"]  # the demo_town fixture
BIN = Path(sys.executable).parent / "grievance-bot"


def inbound_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(InboundMessage)).scalar_one()


def the_ticket(engine: Engine) -> tuple[Ticket, int]:
    """The one ticket and the number of its timeline events."""
    with Session(engine) as session:
        [ticket] = session.execute(select(Ticket)).scalars().all()
        events = session.execute(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
        ).scalar_one()
        return ticket, events


def report_a_problem(
    client: FlaskClient, phone: Phone, demo_town: DemoTown, openid: str
) -> tuple[SignedRequest, Ticket]:
    """A 邻长 binds and reports, as the real 公众号 sends it; returns the captured request."""
    head = demo_town.neighbour_head("大栗港村", 3)
    assert say(client, phone, openid, f"绑定 {head.name} {head.phone}").startswith("绑定成功")
    signed = phone.sign(message_xml(text_fields(openid, "我们组停水两天了，十几户没水吃")))
    response = post(client, phone, signed)
    assert response.status_code == 200
    reply = reply_text(phone.open_reply(signed, response.get_data(as_text=True)))
    ticket, _ = the_ticket(engine_of(client))
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    return signed, ticket


def engine_of(client: FlaskClient) -> Engine:
    engine: Engine = client.application.extensions["grievance"]["engine"]
    return engine


@pytest.fixture(params=["safe", "compatible"])
def encrypted_account(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    phone: Phone,
    compatible_client: FlaskClient,
    compatible_phone: Phone,
) -> tuple[FlaskClient, Phone]:
    """A 公众号 in safe mode (the default with a key) or in compatible mode, and its phone."""
    if request.param == "safe":
        return client, phone
    return compatible_client, compatible_phone


def test_forged_plaintext_withdrawal_is_refused(
    encrypted_account: tuple[FlaskClient, Phone], engine: Engine, demo_town: DemoTown
) -> None:
    client, phone = encrypted_account
    captured, ticket = report_a_problem(client, phone, demo_town, "o-victim")
    before = the_ticket(engine)
    stored = inbound_count(engine)

    # The attacker saw the callback URL: its signature, timestamp and nonce are still fresh.
    forged_body = message_xml(text_fields("o-victim", f"撤回 #{ticket.id}")).encode()
    plain_query = {k: captured.query[k] for k in ("signature", "timestamp", "nonce")}
    response = client.post("/wechat", query_string=plain_query, data=forged_body)
    assert response.status_code == 403

    # Claiming encryption but sending no <Encrypt>: nothing is covered by msg_signature.
    response = client.post("/wechat", query_string=captured.query, data=forged_body)
    assert response.status_code == 403

    assert the_ticket(engine) == before
    assert before[0].state == TicketState.assigned.value
    assert inbound_count(engine) == stored


def test_plaintext_fields_beside_encrypt_are_never_used(
    encrypted_account: tuple[FlaskClient, Phone], engine: Engine, demo_town: DemoTown
) -> None:
    client, phone = encrypted_account
    captured, ticket = report_a_problem(client, phone, demo_town, "o-victim")
    before = the_ticket(engine)
    encrypt = xmltodict.parse(captured.body)["xml"]["Encrypt"]
    # The attacker replays the captured <Encrypt> with forged plaintext fields beside it.
    forged = message_xml(text_fields("o-victim", f"撤回 #{ticket.id}")).replace(
        "</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    response = client.post("/wechat", query_string=captured.query, data=forged.encode())
    assert response.status_code == 200
    # What was decrypted is the original report, already answered: the store's reply comes back.
    reply = reply_text(phone.open_reply(captured, response.get_data(as_text=True)))
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    assert the_ticket(engine) == before


def test_plaintext_mode_takes_plaintext_as_before(
    plain_client: FlaskClient, plain_phone: Phone, engine: Engine
) -> None:
    signed = plain_phone.sign(message_xml(text_fields("openid-1", "帮助")))
    assert "encrypt_type" not in signed.query and b"<Encrypt>" not in signed.body
    response = post(plain_client, plain_phone, signed)
    assert reply_text(response.get_data(as_text=True)) == texts.HELP
    assert inbound_count(engine) == 1


def test_the_mode_defaults_to_safe_with_a_key(settings: Settings) -> None:
    assert settings.resolved_wechat_mode == "safe"
    without_key = settings.model_copy(update={"wechat_aes_key": None})
    assert without_key.resolved_wechat_mode == "plaintext"
    assert Phone(without_key).sign("<xml/>").encrypted is False


PRODUCTION = {
    "GRIEVANCE_ENV": "production",
    "GRIEVANCE_WECHAT_TOKEN": "a-real-token-123",
    "GRIEVANCE_WECHAT_APPID": "wx1234567890abcd",
}


def test_production_refuses_safe_mode_without_a_key(tmp_path: Path) -> None:
    mode = "safe"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(PRODUCTION, GRIEVANCE_WECHAT_MODE=mode, GRIEVANCE_INSTANCE_PATH=str(tmp_path))
    # Were the check missing, the server would start: the timeout turns that into a failure.
    result = subprocess.run(
        [str(BIN), "serve", "--port", "8199"], env=env, capture_output=True, text=True, timeout=20
    )
    assert result.returncode != 0
    assert "refusing to start in production" in result.stderr
    assert f"GRIEVANCE_WECHAT_MODE is {mode}" in result.stderr
    assert "GRIEVANCE_WECHAT_AES_KEY" in result.stderr


def test_production_checks_of_the_mode() -> None:
    plaintext = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        wechat_token="a-real-token",
        wechat_appid="wx1234567890",
    )
    plaintext.check_production()  # no key, no mode: plaintext, as the account is set up
    assert plaintext.resolved_wechat_mode == "plaintext"
    for mode in ("safe", "compatible"):
        with pytest.raises(ProductionConfigError, match=f"GRIEVANCE_WECHAT_MODE is {mode}"):
            plaintext.model_copy(update={"wechat_mode": mode}).check_production()
    plaintext.model_copy(
        update={"wechat_mode": "compatible", "wechat_aes_key": "k" * 43}
    ).check_production()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_chat_signs_in_the_accounts_mode(
    run_cli, monkeypatch: pytest.MonkeyPatch, engine: Engine, mode: str
) -> None:
    """`grievance-bot chat` posts what the real 公众号 would in that mode, and is answered."""
    monkeypatch.setenv("GRIEVANCE_WECHAT_MODE", mode)
    get_settings.cache_clear()
    server = create_app(get_settings().with_development_credentials(), engine=engine)
    client = server.test_client()
    sent: list[dict[str, Any]] = []

    def deliver(url: str, params: dict[str, str], data: bytes, timeout: float) -> SimpleNamespace:
        sent.append({"query": params, "body": data})
        response = client.post(urlsplit(url).path, query_string=params, data=data)
        return SimpleNamespace(status_code=response.status_code, text=response.get_data(True))

    monkeypatch.setattr("bot.cli.requests.post", deliver)
    result = run_cli("chat", "--as", "demo-openid", "帮助")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == texts.HELP
    [request] = sent
    fields = xmltodict.parse(request["body"])["xml"]
    assert ("encrypt_type" in request["query"]) == (mode != "plaintext")
    assert ("Encrypt" in fields) == (mode != "plaintext")
    assert ("Content" in fields) == (mode != "safe")
