"""A local phone: builds callbacks signed (and encrypted) exactly as WeChat's servers would.

Used by `grievance-bot chat`, the demo scenario and the tests, so all of them exercise the real
webhook rather than a shortcut.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.sax.saxutils import escape

import xmltodict

from bot.wechat_crypto import CallbackCipher, signature_of
from config.settings import Settings

_msg_ids = itertools.count(int(time.time() * 1000) % 10**12 * 1000 + secrets.randbelow(1000))


def next_msg_id() -> int:
    """A MsgId unique within this process, like WeChat's 64-bit ids."""
    return next(_msg_ids)


def message_xml(fields: Mapping[str, Any]) -> str:
    """A callback body from field names to values; strings are wrapped in CDATA like WeChat does."""
    parts = ["<xml>"]
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, int | float):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            text = str(value).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{name}><![CDATA[{text}]]></{name}>")
    parts.append("</xml>")
    return "".join(parts)


def text_fields(
    sender: str, text: str, to: str = "gh_town", msg_id: int | None = None
) -> dict[str, Any]:
    """The fields of a text message from `sender`."""
    return {
        "ToUserName": to,
        "FromUserName": sender,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": text,
        "MsgId": msg_id if msg_id is not None else next_msg_id(),
    }


@dataclass
class SignedRequest:
    """What to send: the query string and the body."""

    query: dict[str, str]
    body: bytes
    encrypted: bool
    nonce: str = ""
    timestamp: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Phone:
    """Signs like the 公众号 platform (`wecom=False`) or the 企业微信 platform (`wecom=True`)."""

    settings: Settings
    wecom: bool = False
    # The 公众号's 消息加解密方式 to sign in; None: the settings' (GRIEVANCE_WECHAT_MODE).
    mode: Literal["plaintext", "compatible", "safe"] | None = None

    @property
    def path(self) -> str:
        return "/wecom" if self.wecom else "/wechat"

    @property
    def wechat_mode(self) -> Literal["plaintext", "compatible", "safe"]:
        """The mode this 公众号 phone signs in."""
        return self.mode or self.settings.resolved_wechat_mode

    def cipher(self) -> CallbackCipher | None:
        s = self.settings
        if self.wecom:
            return CallbackCipher(
                s.wecom_token or "", s.wecom_corp_id or "", [s.wecom_aes_key or ""], enterprise=True
            )
        if not s.wechat_aes_key:
            return None
        return CallbackCipher(s.wechat_token or "", s.wechat_appid or "", [s.wechat_aes_key])

    def sign(
        self, xml: str, timestamp: int | None = None, nonce: str | None = None
    ) -> SignedRequest:
        """The query and body WeChat would POST for the plaintext message `xml`."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**9))
        cipher = self.cipher()
        encrypt = self.wecom or self.wechat_mode != "plaintext"
        if not encrypt or cipher is None:
            token = self.settings.wechat_token or ""
            query = {"signature": signature_of(token, ts, nonce), "timestamp": ts, "nonce": nonce}
            return SignedRequest(query, xml.encode("utf-8"), False, nonce, ts)
        envelope_xml = cipher.encrypt(xml, nonce, ts)
        encrypt_text = xmltodict.parse(envelope_xml)["xml"]["Encrypt"]
        msg_signature = signature_of(cipher.token, ts, nonce, encrypt_text)
        if self.wecom:
            body = (
                f"<xml><ToUserName><![CDATA[{escape(cipher.receive_id)}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt_text}]]></Encrypt><AgentID><![CDATA["
                f"{escape(self.settings.wecom_agent_id or '')}]]></AgentID></xml>"
            )
            query = {"msg_signature": msg_signature, "timestamp": ts, "nonce": nonce}
        else:
            encrypt_tag = f"<Encrypt><![CDATA[{encrypt_text}]]></Encrypt>"
            end = xml.rfind("</xml>")
            if self.wechat_mode == "compatible" and end >= 0:
                # Compatible mode: the plaintext fields travel beside <Encrypt>, unsigned.
                body = xml[:end] + encrypt_tag + xml[end:]
            else:
                body = f"<xml><ToUserName><![CDATA[gh_town]]></ToUserName>{encrypt_tag}</xml>"
            query = {
                "signature": signature_of(cipher.token, ts, nonce),
                "timestamp": ts,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": msg_signature,
            }
        return SignedRequest(query, body.encode("utf-8"), True, nonce, ts)

    def open_reply(self, request: SignedRequest, body: str) -> str:
        """The plaintext XML of a reply (decrypting it when the request was encrypted)."""
        if body.strip() in ("", "success"):
            return body.strip()
        if not request.encrypted:
            return body
        cipher = self.cipher()
        assert cipher is not None
        envelope = xmltodict.parse(body)["xml"]
        plaintext, _ = cipher.decrypt(
            envelope["Encrypt"], envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        return plaintext


def reply_text(plaintext_xml: str) -> str:
    """The Content of a text reply, or '' for `success`."""
    if plaintext_xml in ("", "success"):
        return ""
    content = xmltodict.parse(plaintext_xml)["xml"].get("Content")
    return content if isinstance(content, str) else ""
