"""Builders for WeChat callbacks sent through the Flask test client, as WeChat would send them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.phone import Phone, SignedRequest, message_xml, reply_text, text_fields


def post(client: FlaskClient, phone: Phone, signed: SignedRequest) -> TestResponse:
    """POST a signed request to the phone's endpoint."""
    return client.post(
        phone.path, query_string=signed.query, data=signed.body, content_type="text/xml"
    )


def send_xml(client: FlaskClient, phone: Phone, xml: str) -> tuple[TestResponse, str]:
    """Sign and post `xml`; return the response and the reply's plaintext XML."""
    signed = phone.sign(xml)
    response = post(client, phone, signed)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response, phone.open_reply(signed, response.get_data(as_text=True))


def say(client: FlaskClient, phone: Phone, sender: str, text: str, **extra: Any) -> str:
    """Send a text message from `sender` and return the reply's text ('' for success)."""
    fields = text_fields(sender, text)
    if phone.wecom:
        fields["ToUserName"] = phone.settings.wecom_corp_id
        fields["AgentID"] = phone.settings.wecom_agent_id
    fields.update(extra)
    _, plaintext = send_xml(client, phone, message_xml(fields))
    return reply_text(plaintext)
