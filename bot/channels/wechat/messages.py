"""WeChat message XML: parsed safely (defusedxml: no entities, no DTDs), built by hand.

    fields = parse(body)                 # {"MsgType": "text", "Content": ..., ...}; XMLError
    text_reply(to, from_, text, now)     # the passive reply XML (a text message)
    encrypted_reply(encrypt, sig, ts, nonce)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_FIELDS = 64
MAX_FIELD = 16 * 1024  # characters of one field
# Characters XML 1.0 cannot carry (the reply would be rejected): control characters, surrogates.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class XMLError(ValueError):
    """A body that is not a WeChat message (the reason, never the data)."""


def parse(body: bytes) -> dict[str, str]:
    """The top-level fields of a `<xml>...</xml>` message, as text ("" for empty ones).
    Nested elements (e.g. an event's ScanCodeInfo) are ignored."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError, UnicodeError):
        raise XMLError("malformed XML") from None
    if root.tag != "xml":
        raise XMLError("root element is not <xml>")
    fields: dict[str, str] = {}
    for child in list(root)[:MAX_FIELDS]:
        if len(child) or not isinstance(child.tag, str):
            continue
        text = (child.text or "").strip() if child.tag != "Content" else (child.text or "")
        if len(text) > MAX_FIELD:
            raise XMLError(f"field {child.tag} too long")
        fields[child.tag] = text
    return fields


def cdata(text: str) -> str:
    """`text` as CDATA: "]]>" split across two sections, invalid characters dropped."""
    return "<![CDATA[" + _INVALID.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, text: str, create_time: int) -> str:
    return ("<xml>"
            f"<ToUserName>{cdata(to_user)}</ToUserName>"
            f"<FromUserName>{cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(create_time)}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{cdata(text)}</Content>"
            "</xml>")


def encrypted_reply(encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    return ("<xml>"
            f"<Encrypt>{cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{cdata(msg_signature)}</MsgSignature>"
            f"<TimeStamp>{cdata(timestamp)}</TimeStamp>"
            f"<Nonce>{cdata(nonce)}</Nonce>"
            "</xml>")
