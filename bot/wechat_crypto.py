"""Verification and AES for WeChat callbacks, wrapping wechatpy where it falls short.

wechatpy compares signatures with `!=`, has no timestamp check and raises a zoo of exceptions on
garbage ciphertext; this module checks in constant time and turns every failure into one of two
exceptions the web layer maps to 403 and 400.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import WeChatCrypto as MpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatException

# What wechatpy and xmltodict raise on malformed input (see ../shared/WECHAT.md).
MALFORMED_ERRORS: tuple[type[BaseException], ...] = (
    struct.error,
    ValueError,
    binascii.Error,
    UnicodeDecodeError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    ExpatError,
    WeChatException,
)


class Forbidden(Exception):
    """The request is not from WeChat: bad signature or stale timestamp (HTTP 403)."""


class Malformed(Exception):
    """The request is from WeChat's shape but cannot be read (HTTP 400)."""


def signature_of(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted, concatenated parts, hex lowercase."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8"), usedforsecurity=False).hexdigest()


def verify_signature(given: str | None, *parts: str) -> None:
    """Raise Forbidden unless `given` equals the signature of `parts` (constant time)."""
    if not given:
        raise Forbidden("missing signature")
    expected = signature_of(*parts)
    if not hmac.compare_digest(
        expected.encode("ascii"), given.strip().lower().encode("ascii", "replace")
    ):
        raise Forbidden("bad signature")


def check_timestamp(timestamp: str | None, max_skew: int, now: float | None = None) -> str:
    """Raise Forbidden when the timestamp is missing, not a number or too far from now."""
    if not timestamp or not (timestamp.strip().isascii() and timestamp.strip().isdecimal()):
        raise Forbidden("missing or malformed timestamp")
    if max_skew > 0:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > max_skew:
            raise Forbidden("stale timestamp")
    return timestamp


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The outer `<xml>` of a callback as a dict; Malformed when it is not one."""
    try:
        doc = xmltodict.parse(body)
    except MALFORMED_ERRORS as exc:
        raise Malformed(f"unreadable XML: {type(exc).__name__}") from exc
    xml = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(xml, dict):
        raise Malformed("no <xml> root")
    return xml


def encrypted_field(envelope: dict[str, Any]) -> str:
    """The `<Encrypt>` text of an envelope, or Malformed."""
    value = envelope.get("Encrypt")
    if not isinstance(value, str) or not value.strip():
        raise Malformed("no <Encrypt> field")
    return value


@dataclass(frozen=True)
class CallbackCipher:
    """The keys of one app: the current EncodingAESKey and, during a change, the previous one."""

    token: str
    receive_id: str
    aes_keys: Sequence[str]
    enterprise: bool = False

    def _cryptos(self) -> list[Any]:
        crypto_class = WecomCrypto if self.enterprise else MpCrypto
        return [crypto_class(self.token, key, self.receive_id) for key in self.aes_keys if key]

    def decrypt(
        self, encrypt: str, msg_signature: str | None, timestamp: str, nonce: str
    ) -> tuple[str, int]:
        """Verify msg_signature and decrypt, trying each key; return plaintext and key index."""
        verify_signature(msg_signature, self.token, timestamp, nonce, encrypt)
        signature = signature_of(self.token, timestamp, nonce, encrypt)
        last_error: BaseException | None = None
        for index, crypto in enumerate(self._cryptos()):
            try:
                envelope = {"Encrypt": encrypt}
                plaintext = crypto.decrypt_message(envelope, signature, timestamp, nonce)
                return _as_text(plaintext), index
            except InvalidSignatureException as exc:  # cannot happen after our check; be safe
                raise Forbidden("bad signature") from exc
            except MALFORMED_ERRORS as exc:
                last_error = exc
        raise Malformed(f"cannot decrypt: {type(last_error).__name__}")

    def decrypt_echostr(
        self, echostr: str, msg_signature: str | None, timestamp: str, nonce: str
    ) -> str:
        """企业微信 URL verification: verify and decrypt echostr, return it bare."""
        plaintext, _ = self.decrypt(echostr, msg_signature, timestamp, nonce)
        return plaintext

    def encrypt(self, reply_xml: str, nonce: str, timestamp: str, key_index: int = 0) -> str:
        """Encrypt a reply with the key that decrypted the request."""
        cryptos = self._cryptos()
        crypto = cryptos[key_index] if key_index < len(cryptos) else cryptos[0]
        return str(crypto.encrypt_message(reply_xml, nonce, timestamp))


def _as_text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed("plaintext is not UTF-8") from exc
    return value
