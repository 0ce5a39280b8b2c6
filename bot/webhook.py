"""The callback endpoints WeChat's servers call: `/wechat` (公众号) and `/wecom` (企业微信).

The views only translate: verify, decrypt, parse, hand to the inbox, encrypt the reply.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, request

from bot import texts
from bot.inbox import SUCCESS, Inbox, mask, parse_wechat_xml
from bot.wechat_crypto import (
    CallbackCipher,
    Forbidden,
    Malformed,
    check_timestamp,
    encrypted_field,
    parse_envelope,
    verify_signature,
)
from config.settings import Settings
from handlers.router import Message

log = logging.getLogger(__name__)

blueprint = Blueprint("webhook", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["grievance"]["settings"]
    return settings


def _inbox() -> Inbox:
    inbox: Inbox = current_app.extensions["grievance"]["inbox"]
    return inbox


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _xml(body: str) -> Response:
    return Response(body, status=200, mimetype="application/xml")


def _refuse(status: int, reason: str, channel: str) -> Response:
    log.warning("%s callback refused (%s): %s", channel, status, reason)
    return _plain({403: "forbidden", 400: "bad request", 413: "too large"}[status], status)


def mp_cipher(settings: Settings) -> CallbackCipher | None:
    """The 公众号's cipher, or None when no EncodingAESKey is configured (plaintext only)."""
    if not settings.wechat_aes_key or not settings.wechat_token:
        return None
    keys = [settings.wechat_aes_key, settings.wechat_aes_key_previous or ""]
    return CallbackCipher(settings.wechat_token, settings.wechat_appid or "", keys)


def wecom_cipher(settings: Settings) -> CallbackCipher | None:
    """The 企业微信 app's cipher, or None when the app is not configured."""
    if not (settings.wecom_token and settings.wecom_aes_key and settings.wecom_corp_id):
        return None
    return CallbackCipher(
        settings.wecom_token, settings.wecom_corp_id, [settings.wecom_aes_key], enterprise=True
    )


@blueprint.route("/wechat", methods=["GET", "POST"])
def wechat() -> Response:
    """公众号 callback: URL check (GET) and messages in the account's mode (GRIEVANCE_WECHAT_MODE).

    Safe and compatible mode take only `<Encrypt>` verified by msg_signature; plaintext mode takes
    bodies under `signature` (which covers only timestamp and nonce, not the body).
    """
    settings = _settings()
    if not settings.wechat_token:
        return _plain(f"{texts.OFFICIAL_ACCOUNT} not configured", 404)
    args = request.args
    timestamp = args.get("timestamp", "")
    nonce = args.get("nonce", "")
    try:
        check_timestamp(timestamp, settings.wechat_max_clock_skew)
        if request.method == "GET":
            verify_signature(args.get("signature"), settings.wechat_token, timestamp, nonce)
            return _plain(args.get("echostr", ""))
        body = request.get_data(cache=False)
        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
        mode = settings.resolved_wechat_mode
        key_index = 0
        cipher = mp_cipher(settings)
        if encrypted:
            if cipher is None:
                raise Malformed("encrypted message but no EncodingAESKey configured")
            envelope = parse_envelope(body)
            if mode != "plaintext" and "Encrypt" not in envelope:
                # Compatible mode's plaintext fields are covered by no signature: never use them.
                raise Forbidden(f"no <Encrypt> covered by msg_signature in {mode} mode")
            xml, key_index = cipher.decrypt(
                encrypted_field(envelope), args.get("msg_signature"), timestamp, nonce
            )
        elif mode != "plaintext":
            # `signature` covers only timestamp and nonce: anyone who saw one callback URL could
            # post any body under it for the clock-skew window.
            raise Forbidden(f"plaintext body refused in {mode} mode")
        else:
            verify_signature(args.get("signature"), settings.wechat_token, timestamp, nonce)
            xml = body.decode("utf-8")
        raw, message = parse_wechat_xml(xml, "wechat")
    except Forbidden as exc:
        return _refuse(403, str(exc), "wechat")
    except (Malformed, UnicodeDecodeError) as exc:
        return _refuse(400, str(exc), "wechat")
    reply = _answer(raw, message, xml)
    if encrypted and reply != SUCCESS and cipher is not None:
        return _xml(cipher.encrypt(reply, nonce, timestamp, key_index))
    return _xml(reply) if reply != SUCCESS else _plain(SUCCESS)


@blueprint.route("/wecom", methods=["GET", "POST"])
def wecom() -> Response:
    """企业微信 callback: echostr verification (GET) and always-encrypted messages (POST)."""
    settings = _settings()
    cipher = wecom_cipher(settings)
    if cipher is None:
        return _plain(f"{texts.WECOM} not configured", 404)
    args = request.args
    timestamp = args.get("timestamp", "")
    nonce = args.get("nonce", "")
    try:
        check_timestamp(timestamp, settings.wechat_max_clock_skew)
        if request.method == "GET":
            echostr = args.get("echostr", "")
            if not echostr:
                raise Malformed("no echostr")
            return _plain(
                cipher.decrypt_echostr(echostr, args.get("msg_signature"), timestamp, nonce)
            )
        envelope = parse_envelope(request.get_data(cache=False))
        xml, _ = cipher.decrypt(
            encrypted_field(envelope), args.get("msg_signature"), timestamp, nonce
        )
        raw, message = parse_wechat_xml(xml, "wecom")
    except Forbidden as exc:
        return _refuse(403, str(exc), "wecom")
    except Malformed as exc:
        return _refuse(400, str(exc), "wecom")
    reply = _answer(raw, message, xml)
    if reply == SUCCESS:
        return _plain(SUCCESS)
    return _xml(cipher.encrypt(reply, nonce, timestamp))


def _answer(raw: Any, message: Message, xml: str) -> str:
    """Hand the message to the inbox (with its plaintext, for the spool); errors still answer."""
    inbox = _inbox()
    try:
        return inbox.receive(raw, message, xml)
    except Exception:
        log.exception(
            "handling %s %s from %s failed", message.channel, message.type, mask(message.sender)
        )
        return inbox.error_reply(raw)
