"""The WeChat API client, on aiohttp: customer-service messages (客服消息), subscription
notifications (订阅通知), the custom menu and the JS-SDK ticket.

    api = WeChatAPI(base_url, app_id, app_secret)
    await api.send_text(openid, "...")   # True: delivered; False: WeChat will not take it now
    await api.send_subscribe(openid, template_id, {"thing1": "...", "time2": "..."})
    await api.create_menu({"button": [...]})   # python -m bot wechat-menu
    await api.jsapi_ticket()             # the consent page's wx.config signature
    await api.close()

Access token: GET {base}/cgi-bin/token?grant_type=client_credential&appid&secret, used
until REFRESH_MARGIN before it expires, and fetched again when WeChat says it is invalid or
expired (40001, 40014, 42001), once per send. With `shared` (a Store's `shared`, as the
channel gives it) the token lives in the database, one row per app id, for every process
and worker: whoever needs a new one takes the row's refresh lease (LEASE seconds), fetches
and stores it; the others wait for the row (polling every LEASE_POLL) and never fetch their
own, since each fetch expires the token the other workers hold and WeChat allows only
2,000 fetches a day. A stale token (the one WeChat just refused) is replaced only if the row
still holds it. Without `shared` (a bare client) it is kept in memory. In the process, one
task at a time asks (an asyncio lock).

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
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from storage.shared import SharedStore

log = logging.getLogger("bot.wechat")

TIMEOUT = aiohttp.ClientTimeout(total=10)
REFRESH_MARGIN = 300.0               # seconds before expiry a token is replaced
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid / not a token / expired: fetch a new one
UNREACHABLE = {45015, 45047, 48001}   # cannot push to this user now: keep it for later
LEASE = 15.0                          # seconds one process may take to refresh the shared token
LEASE_POLL = 0.1                      # seconds between looks at the row while another refreshes


class WeChatAPIError(RuntimeError):
    def __init__(self, what: str, errcode: int | None = None):
        super().__init__(f"{what} (errcode {errcode})" if errcode is not None else what)
        self.errcode = errcode


class WeChatAPI:
    def __init__(self, base_url: str, app_id: str, app_secret: str,
                 clock: Callable[[], float] = time.monotonic, *, shared: SharedStore | None = None,
                 wall: Callable[[], float] = time.time):
        self.base_url = base_url.rstrip("/")
        self.app_id, self.app_secret = app_id, app_secret
        self.clock = clock            # in-memory token (no `shared`)
        self.shared = shared          # the database row shared by every process
        self.wall = wall              # the shared row's times are Unix seconds
        self.name = f"wechat:{app_id}"
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
        task or process already has)."""
        async with self._lock:
            if self.shared is None:
                fresh = self._token is not None and self.clock() < self._expires
                if fresh and self._token != stale:
                    return self._token  # type: ignore[return-value]
                token, expires_in = await self._fetch()
                self._token = token
                self._expires = self.clock() + _lifetime(expires_in)
                return token
            return await self._shared_token(self.shared, stale)

    async def _shared_token(self, shared: SharedStore, stale: str | None, name: str | None = None,
                            fetch: Callable[[], Awaitable[tuple[str, float]]] | None = None) -> str:
        """The row `name` (the access token by default) of the shared table, fetched by one
        process under the lease when missing, stale or expired."""
        name = name or self.name
        fetch = fetch or self._fetch
        deadline = self.wall() + 2 * LEASE
        while True:
            row = shared.token(name)
            if row is not None and row.token and row.token != stale and self.wall() < row.expires_at:
                return row.token
            lease = secrets.token_hex(8)
            if shared.claim_token_refresh(name, lease, self.wall(), LEASE):
                try:
                    row = shared.token(name)   # another process may have finished just before
                    if row is not None and row.token and row.token != stale and self.wall() < row.expires_at:
                        return row.token
                    token, expires_in = await fetch()
                    shared.put_token(name, lease, token, self.wall() + _lifetime(expires_in))
                    return token
                finally:
                    shared.release_token_refresh(name, lease)   # a no-op once put_token ended it
            if self.wall() > deadline:
                raise WeChatAPIError("access token: another process is still refreshing it")
            await asyncio.sleep(LEASE_POLL)

    async def _fetch(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
        async with self._http().get(f"{self.base_url}/cgi-bin/token", params=params) as r:
            data = await _json(r)
        self.token_fetches += 1
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatAPIError("access token refused", _errcode(data))
        expires_in = data.get("expires_in")
        expires_in = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
        log.info("wechat: new access token, valid %ss", int(expires_in))
        return token, expires_in

    async def send_text(self, openid: str, text: str) -> bool:
        """One customer-service text message. True: accepted; False: not now (UNREACHABLE)."""
        return await self._post("/cgi-bin/message/custom/send", "customer-service message",
                                {"touser": openid, "msgtype": "text", "text": {"content": text}})

    async def send_subscribe(self, openid: str, template_id: str, data: dict[str, str],
                             page: str | None = None) -> bool:
        """One 订阅通知 (subscription notification) of the account's template `template_id`,
        allowed by one consent of the user (POST /cgi-bin/message/subscribe/bizsend; `data`:
        the template's keys and their values, e.g. {"thing1": "...", "time2": "..."}).
        True: accepted; False: not now (no consent left on WeChat's side: 43101; UNREACHABLE)."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id,
                                "data": {key: {"value": value} for key, value in data.items()}}
        if page:
            body["page"] = page
        return await self._post("/cgi-bin/message/subscribe/bizsend", "subscription notification", body,
                                refused=UNREACHABLE | {43101})

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Publish the custom menu (POST /cgi-bin/menu/create); raises WeChatAPIError when
        WeChat refuses it (its errcode says why, e.g. 40016 too many buttons)."""
        if not await self._post("/cgi-bin/menu/create", "menu", menu, refused=set()):
            raise WeChatAPIError("menu refused")  # pragma: no cover - refused=set() never returns False

    async def jsapi_ticket(self) -> str:
        """The JS-SDK ticket (GET /cgi-bin/ticket/getticket?type=jsapi) for the consent page's
        wx.config signature: shared between processes like the access token (its own row)."""
        async def fetch() -> tuple[str, float]:
            token = await self.access_token()
            async with self._http().get(f"{self.base_url}/cgi-bin/ticket/getticket",
                                        params={"access_token": token, "type": "jsapi"}) as r:
                data = await _json(r)
            ticket = data.get("ticket")
            if not isinstance(ticket, str) or not ticket or _errcode(data) not in (0, None):
                raise WeChatAPIError("jsapi ticket refused", _errcode(data))
            expires_in = data.get("expires_in")
            return ticket, float(expires_in) if isinstance(expires_in, int | float) else 7200.0

        if self.shared is None:
            ticket, _ = await fetch()
            return ticket
        return await self._shared_token(self.shared, None, f"wechat-jsapi:{self.app_id}", fetch)

    async def _post(self, path: str, what: str, payload: dict[str, Any],
                    refused: set[int] = UNREACHABLE) -> bool:
        """POST JSON with the access token (fetched anew once when WeChat says it is invalid).
        True: errcode 0; False: an errcode in `refused`; otherwise WeChatAPIError."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")  # WeChat shows \\u escapes literally
        token = await self.access_token()
        for attempt in (1, 2):
            async with self._http().post(f"{self.base_url}{path}", params={"access_token": token}, data=body,
                                         headers={"Content-Type": "application/json; charset=utf-8"}) as r:
                data = await _json(r)
            code = _errcode(data)
            if code in (0, None):
                return True
            if code in TOKEN_ERRORS and attempt == 1:
                token = await self.access_token(stale=token)
                continue
            if code in refused:
                log.info("wechat: %s not accepted now (errcode %s)", what, code)
                return False
            raise WeChatAPIError(f"{what} failed", code)
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


def _lifetime(expires_in: float) -> float:
    """Seconds a token is used: REFRESH_MARGIN less than WeChat's, at least half of it."""
    return max(expires_in - REFRESH_MARGIN, expires_in / 2)


def _errcode(data: dict) -> int | None:
    code = data.get("errcode")
    return code if isinstance(code, int) and not isinstance(code, bool) else None
