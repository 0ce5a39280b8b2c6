"""The callback endpoints as WeChat's servers use them: every mode, every refusal."""

from __future__ import annotations

import logging
import time

import pytest
import xmltodict
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.phone import Phone, message_xml, reply_text, text_fields
from bot.wechat_crypto import signature_of
from config.settings import Settings
from handlers import texts
from models.inbound import InboundMessage
from tests.builders import post, say, send_xml
from tests.conftest import TEST_AES_KEY_OLD


def inbound_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(InboundMessage)).scalar_one()


def test_get_verification_returns_echostr(client: FlaskClient, settings: Settings) -> None:
    ts, nonce = str(int(time.time())), "42"
    sig = signature_of(settings.wechat_token or "", ts, nonce)
    query = {"signature": sig, "timestamp": ts, "nonce": nonce, "echostr": "hello123"}
    response = client.get("/wechat", query_string=query)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "hello123"

    response = client.get("/wechat", query_string={**query, "signature": "0" * 40})
    assert response.status_code == 403


def test_plaintext_mode_help(plain_client: FlaskClient, plain_phone: Phone) -> None:
    assert say(plain_client, plain_phone, "openid-1", "帮助") == texts.HELP


def test_safe_mode_reply_is_encrypted_and_verifies(client: FlaskClient, phone: Phone) -> None:
    signed = phone.sign(message_xml(text_fields("openid-1", "菜单")))
    response = post(client, phone, signed)
    body = response.get_data(as_text=True)
    assert "<Encrypt>" in body and "帮助" not in body
    assert reply_text(phone.open_reply(signed, body)) == texts.HELP  # open_reply verifies


def test_compatible_mode_uses_msg_signature(
    compatible_client: FlaskClient, compatible_phone: Phone
) -> None:
    signed = compatible_phone.sign(message_xml(text_fields("openid-1", "?")))
    # Compatible mode: the plaintext fields travel beside <Encrypt>.
    envelope = xmltodict.parse(signed.body)["xml"]
    assert envelope["Content"] == "?" and envelope["Encrypt"]
    response = post(compatible_client, compatible_phone, signed)
    reply = compatible_phone.open_reply(signed, response.get_data(as_text=True))
    assert reply_text(reply) == texts.HELP

    # A valid plain `signature` does not stand in for a wrong msg_signature.
    signed.query["msg_signature"] = "0" * 40
    assert post(compatible_client, compatible_phone, signed).status_code == 403


def test_previous_aes_key_still_accepted_during_rotation(
    client: FlaskClient, settings: Settings
) -> None:
    old = settings.model_copy(update={"wechat_aes_key": TEST_AES_KEY_OLD})
    old_phone = Phone(old)
    signed = old_phone.sign(message_xml(text_fields("openid-1", "帮助")))
    response = post(client, old_phone, signed)
    assert response.status_code == 200
    # The reply is encrypted with the key the phone used, so the sender can read it.
    assert reply_text(old_phone.open_reply(signed, response.get_data(as_text=True))) == texts.HELP


def test_what_no_handler_takes_is_answered_success(client: FlaskClient, phone: Phone) -> None:
    xml = message_xml(
        {
            "ToUserName": "gh_town",
            "FromUserName": "openid-1",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "VIEW",
            "EventKey": "https://example.invalid/menu",
        }
    )
    signed = phone.sign(xml)
    assert post(client, phone, signed).get_data(as_text=True) == "success"


def test_subscribe_gets_welcome(client: FlaskClient, phone: Phone) -> None:
    xml = message_xml(
        {
            "ToUserName": "gh_town",
            "FromUserName": "openid-9",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "subscribe",
        }
    )
    _, plaintext = send_xml(client, phone, xml)
    assert reply_text(plaintext) == texts.WELCOME


def test_wecom_get_returns_bare_plaintext(client: FlaskClient, wecom_phone: Phone) -> None:
    cipher = wecom_phone.cipher()
    assert cipher is not None
    ts, nonce = str(int(time.time())), "77"
    envelope = xmltodict.parse(cipher.encrypt("5927782489442352469", nonce, ts))["xml"]
    query = {
        "msg_signature": envelope["MsgSignature"],
        "timestamp": ts,
        "nonce": nonce,
        "echostr": envelope["Encrypt"],
    }
    response = client.get("/wecom", query_string=query)
    assert response.status_code == 200
    assert response.data == b"5927782489442352469"

    query["msg_signature"] = "1" * 40
    assert client.get("/wecom", query_string=query).status_code == 403


def test_wecom_post_replies_encrypted(client: FlaskClient, wecom_phone: Phone) -> None:
    assert say(client, wecom_phone, "zhangsan", "帮助") == texts.HELP


def test_wecom_rejects_another_corp(
    client: FlaskClient, settings: Settings, engine: Engine
) -> None:
    other = Phone(settings.model_copy(update={"wecom_corp_id": "wwsomeoneelse"}), wecom=True)
    signed = other.sign(message_xml(text_fields("zhangsan", "帮助")))
    assert post(client, other, signed).status_code == 400
    assert inbound_count(engine) == 0


@pytest.mark.parametrize(
    "mutate, status",
    [
        (lambda s: s.query.update(signature="f" * 40, msg_signature="f" * 40), 403),
        (lambda s: s.query.pop("msg_signature"), 403),
        (lambda s: s.query.update(timestamp=str(int(time.time()) - 3600)), 403),
        (lambda s: s.query.update(timestamp="soon"), 403),
        (lambda s: s.query.update(timestamp="²"), 403),
    ],
    ids=["forged", "unsigned", "stale", "nonsense-timestamp", "superscript-timestamp"],
)
def test_forged_requests_refused_and_nothing_stored(
    client: FlaskClient, phone: Phone, engine: Engine, mutate, status: int
) -> None:
    signed = phone.sign(message_xml(text_fields("openid-1", "帮助")))
    mutate(signed)
    assert post(client, phone, signed).status_code == status
    assert inbound_count(engine) == 0


def test_plaintext_forgery_refused(
    plain_client: FlaskClient, plain_phone: Phone, engine: Engine
) -> None:
    signed = plain_phone.sign(message_xml(text_fields("openid-1", "帮助")))
    signed.query["signature"] = signature_of("wrong-token", signed.timestamp, signed.nonce)
    assert post(plain_client, plain_phone, signed).status_code == 403
    assert inbound_count(engine) == 0


def test_stale_timestamp_from_a_replayed_capture_is_refused(
    client: FlaskClient, phone: Phone, engine: Engine
) -> None:
    signed = phone.sign(
        message_xml(text_fields("openid-1", "帮助")), timestamp=int(time.time()) - 301
    )
    assert post(client, phone, signed).status_code == 403
    assert inbound_count(engine) == 0


def test_clock_skew_zero_turns_the_check_off(
    settings: Settings, engine: Engine, phone: Phone
) -> None:
    from bot.app import create_app

    client = create_app(
        settings.model_copy(update={"wechat_max_clock_skew": 0}), engine=engine
    ).test_client()
    signed = phone.sign(message_xml(text_fields("openid-1", "帮助")), timestamp=1_000_000_000)
    assert post(client, phone, signed).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><Encrypt>",
        b"not xml at all",
        b"<xml></xml>",
        b"<other/>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
    ],
    ids=["truncated", "text", "empty", "wrong-root", "entity"],
)
def test_malformed_envelopes_get_400(
    client: FlaskClient, phone: Phone, engine: Engine, body: bytes
) -> None:
    signed = phone.sign(message_xml(text_fields("openid-1", "帮助")))
    signed.body = body
    assert post(client, phone, signed).status_code in (400, 403)
    assert inbound_count(engine) == 0


def test_garbage_ciphertext_gets_400(client: FlaskClient, phone: Phone, engine: Engine) -> None:
    for garbage in ["!!!notbase64", "QUJDRA==", "A" * 64, "6L+Z5LiN5piv5a+G5paH"]:
        ts, nonce = str(int(time.time())), "5"
        cipher = phone.cipher()
        assert cipher is not None
        query = {
            "encrypt_type": "aes",
            "timestamp": ts,
            "nonce": nonce,
            "msg_signature": signature_of(cipher.token, ts, nonce, garbage),
        }
        body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>".encode()
        response = client.post("/wechat", query_string=query, data=body)
        assert response.status_code == 400, garbage
    assert inbound_count(engine) == 0


def test_plaintext_that_is_not_a_message_gets_400(
    plain_client: FlaskClient, plain_phone: Phone, engine: Engine
) -> None:
    for xml in [
        "<xml><MsgType>text</MsgType></xml>",
        "<xml><FromUserName>a</FromUserName><FromUserName>b</FromUserName>"
        "<ToUserName>t</ToUserName><MsgType>text</MsgType></xml>",
        "\xff<xml>",
    ]:
        signed = plain_phone.sign(xml)
        assert post(plain_client, plain_phone, signed).status_code == 400, xml
    assert inbound_count(engine) == 0


def test_oversized_body_gets_413(client: FlaskClient, phone: Phone, engine: Engine) -> None:
    signed = phone.sign(message_xml(text_fields("openid-1", "路" * 30_000)))
    assert len(signed.body) > 64 * 1024
    assert post(client, phone, signed).status_code == 413
    assert inbound_count(engine) == 0


def test_reply_text_cannot_break_the_xml() -> None:
    from bot.inbox import render_reply

    class Raw:
        source, target = "u", "gh"

    rendered = render_reply("a]]>b<xml>", Raw(), __import__("datetime").datetime.now().astimezone())
    assert xmltodict.parse(rendered)["xml"]["Content"].startswith("a]]")


def test_internal_error_is_logged_masked_and_still_answered(
    client: FlaskClient, phone: Phone, engine: Engine, caplog: pytest.LogCaptureFixture, app
) -> None:
    def broken(message, ctx):
        raise RuntimeError("boom")

    app.extensions["grievance"]["inbox"].router.routes.insert(
        0, __import__("handlers").router.Route("text", broken)
    )
    with caplog.at_level(logging.ERROR):
        reply = say(client, phone, "oABCDEFGHIJKLMNOPQRSTUVWXYZ", "帮助")
    assert reply == texts.INTERNAL_ERROR
    assert inbound_count(engine) == 0  # nothing stored: WeChat's retry will try again
    assert "oAB***XYZ" in caplog.text and "oABCDEFGHIJKLMNOPQRSTUVWXYZ" not in caplog.text
