"""The web page in a real browser (Playwright driving Debian's chromium, phone-sized): what a
person sees after they write. Skipped where chromium or Playwright is not installed (CI
installs both: .ci/run and the test extras)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.channels.http import ServerContext, create_app
from bot.config import Settings
from bot.core.engine import Engine

playwright = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
async def url(engine: Engine, settings: Settings) -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(ServerContext(settings, engine)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(url: str) -> AsyncIterator[object]:
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                            bypass_csp=True)  # for wait_for_function only
        pg = await context.new_page()
        await pg.goto(url)
        await pg.wait_for_selector(".m.bot")
        yield pg
        await browser.close()


async def say(page, text: str) -> None:  # type: ignore[no-untyped-def]
    before = await page.locator(".m.bot").count()
    await page.fill("#in", text)
    await page.press("#in", "Enter")
    await page.wait_for_function(f"document.querySelectorAll('.m.bot').length > {before}")
    await page.wait_for_function("!document.querySelector('.note')")  # the "…" is gone
    await page.wait_for_timeout(100)


async def in_view(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    """The element's top is inside the chat log's visible area."""
    return await page.evaluate("""(sel) => {
        const n = document.querySelector(sel), log = document.getElementById('log');
        const a = n.getBoundingClientRect(), b = log.getBoundingClientRect();
        return a.top >= b.top - 1 && a.top < b.bottom - 60;
    }""", selector)


async def test_the_crisis_reply_is_in_view_with_tappable_numbers_mid_report(page, tmp_path: Path) -> None:
    await say(page, "催收打我公司电话合法吗")            # some history above
    await say(page, "他们爆我通讯录怎么办")
    await say(page, "/report")
    await say(page, "我攒了一瓶安眠药，今晚就吃了")
    assert await page.locator(".m.crisis").count() == 1
    assert await in_view(page, ".m.crisis")
    last = page.locator(".m.bot").last
    assert "crisis" in (await last.get_attribute("class"))           # no question re-asked after it
    for number in ("12356", "120", "110"):
        link = page.locator(f".m.crisis a[href='tel:{number}']")
        assert await link.count() == 1
        box = await link.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844      # on the first screen
    await page.screenshot(path=str(tmp_path / "crisis.png"))
    if os.environ.get("BG_SHOTS"):
        await page.screenshot(path=os.path.join(os.environ["BG_SHOTS"], "crisis.png"))

    # Writing again offers the report back; it continues only when asked.
    await say(page, "谢谢你")
    await page.locator(".m.bot button", has_text="继续刚才的事").last.click()
    await page.wait_for_function("document.querySelector('.m.bot:last-child .bs button')")
    assert await page.locator(".m.bot").last.locator("button").count() >= 2


async def test_each_new_answer_is_shown_from_its_start(page) -> None:  # type: ignore[no-untyped-def]
    for question in ("催收打我公司电话合法吗", "欠网贷会坐牢吗", "利息超过24%还要还吗"):
        await say(page, question)
        # The newest answer's first line is on screen, even when the answer is taller than it.
        assert await page.evaluate("""() => {
            const bots = document.querySelectorAll('.m.bot'), n = bots[bots.length - 1];
            const log = document.getElementById('log');
            return n.getBoundingClientRect().top >= log.getBoundingClientRect().top - 1;
        }""")


@pytest.fixture
async def limited_page(loaded, tmp_path: Path) -> AsyncIterator[tuple[object, Engine]]:  # type: ignore[no-untyped-def]
    from bot.app import build_engine

    settings = Settings(_env_file=None, bot_db_path=tmp_path / "limited.db", bot_rate_session="2/3 seconds")
    engine = build_engine(settings, loaded=loaded)
    runner = web.AppRunner(create_app(ServerContext(settings, engine)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", bypass_csp=True)
        pg = await context.new_page()
        await pg.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
        await pg.wait_for_selector(".m.bot")
        yield pg, engine
        await browser.close()
    await runner.cleanup()


async def test_too_fast_the_page_waits_and_sends_again_losing_nothing(limited_page) -> None:  # type: ignore[no-untyped-def]
    page, engine = limited_page
    questions = ["催收打我公司电话合法吗", "他们爆我通讯录怎么办", "晚上十点以后还打电话合法吗"]
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/api/chat") else None)
    bots = await page.locator(".m.bot").count()
    for q in questions:  # three in a row: the session's limit is two in three seconds
        await page.fill("#in", q)
        await page.press("#in", "Enter")
    await page.wait_for_function("!document.querySelector('.note')", timeout=15000)
    assert 429 in statuses and statuses.count(200) == len(questions)   # refused once, then sent again
    handled = list(engine.store.db.query("SELECT message_id FROM inbox"))
    assert len(handled) == 1 + len(questions)                          # /start and the three, each once
    assert await page.locator(".m.bot").count() >= bots + len(questions)
    assert await page.locator(".m.me").count() == 3
    assert await page.locator(".note.err").count() == 0
