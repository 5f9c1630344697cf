"""The WeChat Official Account channel (微信公众号), channel "wechat": `GET /wechat` (server
verification) and `POST /wechat` (messages), enabled by WECHAT_TOKEN; the reminder sender
through the customer-service message API when WECHAT_APP_ID and WECHAT_APP_SECRET are set.

Modules: crypto (signatures, safe-mode AES), messages (safe XML in, reply XML out), api (the
customer-service API client, access token cache), channel (the routes and pushes; a
ChannelBase, bot/channels/base.py, which does the worker thread, dedup, retries and ack).

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

Messages. text -> the engine; event `subscribe` -> "/start"; a menu CLICK whose key starts
with "/" -> that command; other events (unsubscribe, location reports, ...) -> `success`, no
reply; voice with WeChat's speech recognition -> its text, other voice, image, video, file,
location and link -> an attachment (the engine explains what it can do with them); any other
type -> a short "not supported" reply.

Retries. WeChat retries a message 3 times when it has no answer in 5 s. The engine's inbox
deduplicates by sender + MsgId ("m:<openid>:<MsgId>"; events by sender + CreateTime + event:
a MsgId alone would let one user's id fetch another's reply), and the passive reply of each
answered message is kept in memory for RETRY_WINDOW (ChannelBase.once), so a retry gets the
same reply, never a second step; after a restart the engine gives the stored replies again
(replay). The message is acknowledged to the engine once the passive reply is made.

Replies. WeChat takes one passive reply per message: the engine's replies are joined into one
text message, buttons as `[N] label` lines (base.plain_text, as in the terminal; the user
types the number or the label). A text longer than one message (CHUNK bytes of UTF-8, under WeChat's 2048) is
split at blank lines or line ends. The first part is the passive reply; then
- with WECHAT_APP_ID/SECRET: the rest is pushed through the customer-service API right after
  (the first part says "continued below"); a part the API refuses waits for "more";
- without: the rest waits in memory (MORE_TTL, bounded) and the user replies 更多 / more
  for the next part ("reply 'more' to continue, 1/3").
The "more" store is in memory: after a restart "more" is ordinary text to the engine. At
most MAX_PARTS parts per answer.

Reminders. `push(openid, replies)` sends through the customer-service API; False when
WeChat refuses for now (45015 outside the 48-hour window since the user last wrote, 45047,
48001), so the reminder stays pending and comes with the user's next message; other failures
raise, for the reminder loop to retry.

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
        api = WeChatAPI(s.wechat_api_base_url, s.wechat_app_id, s.wechat_app_secret)
    if not s.wechat_token and api is None:
        return None
    return WeChatChannel(engine, s, api)
