"""The WeChat API client for customer-service messages (客服消息), on aiohttp.

    api = WeChatAPI(base_url, app_id, app_secret)
    await api.send_text(openid, "...")   # True: delivered; False: WeChat will not take it now
    await api.close()

Access token: GET {base}/cgi-bin/token?grant_type=client_credential&appid&secret, cached
until REFRESH_MARGIN before it expires, fetched by one request at a time (a lock), and
fetched again when WeChat says it is invalid or expired (40001, 40014, 42001), once per send.

Errors. False (the user cannot be reached this way now, keep the message for later) for
45015 (outside the 48-hour window since the user last wrote), 45047 (too many messages since
the user last wrote) and 48001 (the account has no permission for this API). Anything else,
network errors included, raises WeChatAPIError or aiohttp's own error: a transient failure
for the caller to retry. URLs carry the access token and are never logged; neither are
OpenIDs or message text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import aiohttp

log = logging.getLogger("bot.wechat")

TIMEOUT = aiohttp.ClientTimeout(total=10)
REFRESH_MARGIN = 300.0               # seconds before expiry a token is replaced
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid / not a token / expired: fetch a new one
UNREACHABLE = {45015, 45047, 48001}   # cannot push to this user now: keep it for later


class WeChatAPIError(RuntimeError):
    def __init__(self, what: str, errcode: int | None = None):
        super().__init__(f"{what} (errcode {errcode})" if errcode is not None else what)
        self.errcode = errcode


class WeChatAPI:
    def __init__(self, base_url: str, app_id: str, app_secret: str,
                 clock: Callable[[], float] = time.monotonic):
        self.base_url = base_url.rstrip("/")
        self.app_id, self.app_secret = app_id, app_secret
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self.token_fetches = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def access_token(self, stale: str | None = None) -> str:
        """A valid access token; `stale` is one WeChat just refused (fetch anew unless another
        task already has)."""
        async with self._lock:
            fresh = self._token is not None and self.clock() < self._expires
            if fresh and self._token != stale:
                return self._token  # type: ignore[return-value]
            params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
            async with self._http().get(f"{self.base_url}/cgi-bin/token", params=params) as r:
                data = await _json(r)
            self.token_fetches += 1
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatAPIError("access token refused", _errcode(data))
            expires_in = data.get("expires_in")
            expires_in = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
            self._token = token
            self._expires = self.clock() + max(expires_in - REFRESH_MARGIN, expires_in / 2)
            log.info("wechat: new access token, valid %ss", int(expires_in))
            return token

    async def send_text(self, openid: str, text: str) -> bool:
        """One customer-service text message. True: accepted; False: not now (UNREACHABLE)."""
        body = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": text}},
                          ensure_ascii=False).encode("utf-8")  # WeChat shows \\u escapes literally
        token = await self.access_token()
        for attempt in (1, 2):
            async with self._http().post(f"{self.base_url}/cgi-bin/message/custom/send",
                                         params={"access_token": token}, data=body,
                                         headers={"Content-Type": "application/json; charset=utf-8"}) as r:
                data = await _json(r)
            code = _errcode(data)
            if code in (0, None):
                return True
            if code in TOKEN_ERRORS and attempt == 1:
                token = await self.access_token(stale=token)
                continue
            if code in UNREACHABLE:
                log.info("wechat: customer-service message not accepted now (errcode %s)", code)
                return False
            raise WeChatAPIError("customer-service message failed", code)
        raise WeChatAPIError("access token refused twice")  # pragma: no cover - loop returns or raises


async def _json(response: aiohttp.ClientResponse) -> dict:
    if response.status != 200:
        raise WeChatAPIError(f"HTTP {response.status}")
    try:
        data = json.loads(await response.read())
    except (ValueError, UnicodeDecodeError):
        raise WeChatAPIError("answer is not JSON") from None
    if not isinstance(data, dict):
        raise WeChatAPIError("answer is not a JSON object")
    return data


def _errcode(data: dict) -> int | None:
    code = data.get("errcode")
    return code if isinstance(code, int) and not isinstance(code, bool) else None
