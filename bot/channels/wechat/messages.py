"""WeChat message XML: parsed safely (defusedxml: no entities, no DTDs), built by hand.

    fields = parse(body)                 # {"MsgType": "text", "Content": ..., ...}; XMLError
    text_reply(to, from_, text, now)     # the passive reply XML (a text message)
    encrypted_reply(encrypt, sig, ts, nonce)
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_FIELDS = 64
MAX_ITEMS = 16
#: events whose items are nested (<List>...</List>): kept as JSON under their element's name
LISTS = ("SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent", "SubscribeMsgSentEvent")
MAX_FIELD = 16 * 1024  # characters of one field
# Characters XML 1.0 cannot carry (the reply would be rejected): control characters, surrogates.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class XMLError(ValueError):
    """A body that is not a WeChat message (the reason, never the data)."""


def parse(body: bytes) -> dict[str, str]:
    """The top-level fields of a `<xml>...</xml>` message, as text ("" for empty ones).
    Nested elements (e.g. an event's ScanCodeInfo) are ignored, except the items of the
    subscription events (LISTS), kept as JSON (`items`)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError, UnicodeError):
        raise XMLError("malformed XML") from None
    if root.tag != "xml":
        raise XMLError("root element is not <xml>")
    fields: dict[str, str] = {}
    for child in list(root)[:MAX_FIELDS]:
        if isinstance(child.tag, str) and child.tag in LISTS:
            fields[child.tag] = json.dumps(_items(child))
            continue
        if len(child) or not isinstance(child.tag, str):
            continue
        text = (child.text or "").strip() if child.tag != "Content" else (child.text or "")
        if len(text) > MAX_FIELD:
            raise XMLError(f"field {child.tag} too long")
        fields[child.tag] = text
    return fields


def _items(element: ET.Element) -> list[dict[str, str]]:
    """The `<List>` items of a subscription event, each as its fields' text (at most MAX_ITEMS)."""
    out = []
    for item in list(element)[:MAX_ITEMS]:
        fields = {f.tag: (f.text or "").strip()[:256] for f in list(item)[:MAX_FIELDS]
                  if isinstance(f.tag, str) and not len(f)}
        out.append(fields)
    return out


def items(fields: dict[str, str], name: str) -> list[dict[str, str]]:
    """A subscription event's items (`parse` keeps them as JSON under the element's name)."""
    try:
        value = json.loads(fields.get(name) or "[]")
    except ValueError:
        return []
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


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
