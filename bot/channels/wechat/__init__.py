"""The WeChat Official Account channel (微信公众号), channel "wechat": `GET /wechat` (server
verification) and `POST /wechat` (messages), enabled by WECHAT_TOKEN; the reminder sender
through the customer-service message API when WECHAT_APP_ID and WECHAT_APP_SECRET are set.

Modules: crypto (signatures, safe-mode AES), messages (safe XML in, reply XML out), api (the
customer-service API client; its access token is one database row shared by all processes),
channel (the routes and pushes; a ChannelBase, bot/channels/base.py, which does the worker
thread, dedup, retries and ack).

Requests. Every request's `signature` (sha1 of the sorted token, timestamp and nonce) is
compared in constant time: 403 when wrong or missing, or when its timestamp is more than
TIMESTAMP_WINDOW (5 minutes) from our clock. A (timestamp, nonce) pair is remembered for the
window with a digest of its body: the same pair with another body is a replay (403), since
plain mode's signature does not cover the body. A body over MAX_BODY (64 KiB) gets
413; XML that does not parse, or is not a WeChat message, 400 (defusedxml: no DTDs, no
entities). Safe mode (WECHAT_ENCODING_AES_KEY set; WECHAT_APP_ID is then required): the
request must be encrypted (`encrypt_type=aes`), its `msg_signature` over the encrypted
payload is checked before anything is decrypted, and a payload for another app id is refused
(403). Replies are encrypted the same way.

Messages. text -> the engine; event `subscribe` -> "/start", or, through a QR code with a
scene ("qrscene_<x>"), the command content/deeplinks.yaml maps it to (bot/channels/deeplinks.py;
`SCAN` by a follower likewise); a menu CLICK whose key starts with "/" -> that command (the
menu: menu.py, `python -m bot wechat-menu`); `subscribe_msg_popup_event` /
`subscribe_msg_change_event` -> consents to subscription notifications stored or withdrawn
(followup.py; the consent page is `GET /wechat/subscribe/<token>`); other events
(unsubscribe, location reports, ...) -> `success`, no reply; voice with WeChat's speech
recognition -> its text, other voice, image, video, file,
location and link -> an attachment (the engine explains what it can do with them); any other
type -> a short "not supported" reply.

Retries. WeChat retries a message 3 times when it has no answer in 5 s. The engine's inbox
deduplicates by sender + MsgId ("m:<openid>:<MsgId>"; events by sender + CreateTime + event:
a MsgId alone would let one user's id fetch another's reply), and the passive reply of each
answered message is kept in memory for RETRY_WINDOW (ChannelBase.once), so a retry gets the
same reply, never a second step; after a restart the engine gives the stored replies again
(replay). The message is acknowledged to the engine once the passive reply is made.

Replies. WeChat takes one passive reply per message, and the engine's answer is cut into
messages (`messages_of`): an answer with letters (kind "draft") is one message per reply, in
order: the short "who this is for and how to send it" line, then the letter alone, whole,
nothing else in it; a letter longer than one message is cut at paragraph boundaries (then
line ends, then sentence ends) into parts marked "(1/2)", "(2/2)". Any other answer is joined
into one text, buttons as `[N] label` lines (base.plain_text, as in the terminal; the user
types the number or the label), cut every CHUNK bytes of UTF-8 (under WeChat's 2048) at blank
lines or line ends. At most MAX_PARTS messages per answer. The first message is the passive
reply (never a letter: then a short "it follows below"); the rest waits in the user's outbox,
a table in the database (storage.shared), so it survives restarts and /delete erases it:
- with WECHAT_APP_ID/SECRET: pushed right after through the customer-service API, one message
  each, in order, paced (PUSH_DELAY before each; the first message says "continued below").
  When WeChat refuses one (45047: too many messages since the user last wrote; 45015: outside
  the 48 hours), it and the rest stay in the outbox; the user's next message (any, "更多" or
  "more" included, which is not given to the engine then) gets "N messages were waiting, here
  they come" and they are pushed before the new answer's rest;
- without: the user replies 更多 / more for the next message, whole, with "part 2 of 5,
  reply 'more'"; a new answer replaces what was left of the last one.

Letters as a page. After a report's letters one more message links to `/d/<token>` (all the
letters with copy buttons and a .txt; bot/channels/documents.py), or says that no page can be
offered without BOT_PUBLIC_URL.

Reminders. `push(openid, replies)`: within 48 hours of the user's last message through the
customer-service API; past them (or when WeChat refuses: 45015, 45047, 48001) one
subscription notification when the user allowed one (followup.py; the reminder's messages
then wait in the outbox for the user's next message); otherwise False, so the reminder stays
pending and comes with the user's next message. Other failures raise, for the reminder loop
to retry. When a reminder is set, the user is told which of these applies (followup.note).

Logs never contain message text, OpenIDs or access tokens.
"""

from __future__ import annotations

from bot.channels.wechat.api import WeChatAPI, WeChatAPIError
from bot.channels.wechat.channel import CHANNEL, WECHAT, WeChatChannel, join_replies, split_text
from bot.channels.wechat.crypto import Box, CryptoError, signature
from bot.config import Settings
from bot.core.engine import Engine

__all__ = ["CHANNEL", "WECHAT", "Box", "CryptoError", "WeChatAPI", "WeChatAPIError", "WeChatChannel",
           "configure", "join_replies", "signature", "split_text"]


def configure(engine: Engine, settings: Settings) -> WeChatChannel | None:
    """The channel when WECHAT_TOKEN (`/wechat`) or the app id and secret (pushes) are set;
    None otherwise. A malformed WECHAT_ENCODING_AES_KEY stops start-up (ValueError)."""
    s = settings
    api = None
    if s.wechat_app_id and s.wechat_app_secret:
        api = WeChatAPI(s.wechat_api_base_url, s.wechat_app_id, s.wechat_app_secret, shared=engine.store.shared)
    if not s.wechat_token and api is None:
        return None
    return WeChatChannel(engine, s, api)
