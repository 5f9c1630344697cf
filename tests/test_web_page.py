"""The web page in a real browser (Playwright driving Debian's chromium, phone-sized): what a
person sees after they write. Skipped where chromium or Playwright is not installed (CI
installs both: .ci/run and the test extras).

The long sessions at the end (issue 15) go through a whole report in Chinese (light) and in
English (dark): a batch's start in view, multi-select in place, the review screen, the
report's findings in view, letters (share falls back to copy, fill the blanks, download all),
a reload restoring the history and the pending question, a reminder reaching the open page,
/delete wiping screen and storage, "leave quickly". Screenshots go to BG_SHOTS when set."""

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
from bot.scheduler import ManualClock
from tests.conftest import ui

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
    await page.wait_for_function("![...document.querySelectorAll('.note')].some(n => n.textContent === '…')")
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
    await page.locator(".m.bot button", has_text=ui("crisis.resume_button")).last.click()
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


# --- issue 15: the page as a phone app ---------------------------------------------------------------

async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if os.environ.get("BG_SHOTS"):
        await page.screenshot(path=os.path.join(os.environ["BG_SHOTS"], name + ".png"))


async def tap(page, button_id: str, count_bots: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Tap the button `button_id` of the newest message that has it, and wait for the answer."""
    before = await page.evaluate("document.querySelectorAll('.m.bot').length")
    await page.locator(f".m.bot button.b[data-id='{button_id}']").last.click()
    if count_bots:
        await page.wait_for_function(f"document.querySelectorAll('.m.bot').length > {before}")
    await page.wait_for_function("!document.querySelector('.note:not(.err)') || "
                                 "![...document.querySelectorAll('.note')].some(n => n.textContent === '…')")
    await page.wait_for_timeout(150)


async def settled(page) -> None:  # type: ignore[no-untyped-def]
    await page.wait_for_function("![...document.querySelectorAll('.note')].some(n => n.textContent === '…')")
    await page.wait_for_timeout(150)


async def open_page(p, url: str, locale: str, dark: bool):  # type: ignore[no-untyped-def]
    browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale=locale, bypass_csp=True,
                                        color_scheme="dark" if dark else "light", accept_downloads=True,
                                        permissions=["clipboard-read", "clipboard-write", "notifications"])
    # poll for reminders every half second; no navigator.share, as on most desktop browsers
    await context.add_init_script("window.BG_POLL_MS = 500; delete Navigator.prototype.share;")
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector(".m.bot")
    await settled(page)
    return browser, page


def question_text(lang: str) -> dict[str, str]:
    return {"lender": ui("report.lender.q", lang), "found": ui("report.out.findings_title", lang, lender="K-55")}


async def walk_report(page, lang: str, reload_at_lender: bool, url: str) -> None:  # type: ignore[no-untyped-def]
    """/report to the end, checking what a person sees at each kind of question."""
    await say(page, "/report")
    await tap(page, "o:borrower")
    if reload_at_lender:  # a reload (WeChat's browser after switching apps) mid-report
        bots = await page.locator(".m.bot").count()
        await page.reload()
        await page.wait_for_selector(".m.bot")
        await settled(page)
        assert await page.locator(".m.bot").count() == bots                    # the history is back
        assert await page.locator(".m.me").count() >= 2                        # with what they sent
        last = page.locator(".m.bot").last
        assert question_text(lang)["lender"] in (await last.text_content() or "")   # the question waiting
        assert await in_view(page, ".m.bot:last-of-type")
        await shot(page, f"{lang}-reload")
    await say(page, "K-55")                                 # the answer to the question on screen
    assert "K-55" in (await page.locator(".m.bot").last.text_content() or "") or \
        await page.locator(".m.bot button.b[data-id='o:bank']").count() == 1
    # the category question: options first, "back" apart from them (not "the last one")
    q = page.locator(".m.bot").last
    options = await q.locator(".bs button.b").evaluate_all("bs => bs.map(b => b.dataset.id)")
    assert options[-1] == "o:unlicensed_unknown" and "c:back" not in options
    assert await q.locator(".ctl button.b[data-id='c:back']").count() == 1
    heights = await q.locator("button.b").evaluate_all("bs => bs.map(b => b.getBoundingClientRect().height)")
    assert min(heights) >= 44                                                   # tap targets
    await tap(page, "o:bank")
    if not reload_at_lender:  # a reload at the multi-select: its chips come back live
        bots = await page.locator(".m.bot").count()
        await page.reload()
        await page.wait_for_selector(".m.bot")
        await settled(page)
        assert await page.locator(".m.bot").count() == bots
        assert await page.locator(".m.bot").last.locator("button.chip:not([disabled])").count() == 16
        assert await page.locator(".m.bot button.b:not([disabled])").count() == 18   # only the question waiting
        await shot(page, f"{lang}-reload")
    # multi-select: chips toggle in place on one message, numbered as the text says
    bots, mine = await page.locator(".m.bot").count(), await page.locator(".m.me").count()
    chips = ["o:other", "o:called_employer", "o:pressed_others"]
    for chip in chips + chips[1:]:                  # three on, then two of them off again
        await page.locator(f".m.bot button.b[data-id='{chip}']").last.click()
        await settled(page)
        if chip == chips[-1] and await page.locator(".m.bot button.chip.on").count() == 3:
            await shot(page, f"{lang}-multi")
    assert await page.locator(".m.bot").count() == bots                         # still one message
    assert await page.locator(".m.me").count() == mine                         # a tap is not a message
    on = await page.locator(".m.bot").last.locator("button.chip.on").evaluate_all("bs => bs.map(b => b.dataset.id)")
    assert on == ["o:other"]
    assert await page.locator(".m.bot").last.locator(".n").first.text_content() == "1"
    await tap(page, "c:done")
    await say(page, "他们打到我公司" if lang == "zh" else "they called my office")
    await say(page, "11月20日" if lang == "zh" else "2026-11-20")
    await say(page, "11月25日" if lang == "zh" else "2026-11-25")
    await tap(page, "c:skip")
    await tap(page, "c:skip")
    await tap(page, "o:no")
    await page.locator(".m.bot button.b[data-id='o:understand']").last.click()
    await settled(page)
    await tap(page, "c:done")
    await tap(page, "o:messages_only")
    await tap(page, "c:skip")
    await tap(page, "c:skip")
    # the review screen: one primary "looks right", the edits folded away, "exit" marked
    review, bots_now = page.locator(".m.bot").last, await page.locator(".m.bot").count()
    assert await review.locator("button.b.primary[data-id='c:ok']").count() == 1
    assert await review.locator("details.edits button.b[data-id^='e:']").count() >= 5
    assert not await review.locator("details.edits button.b").first.is_visible()
    assert await review.locator(".ctl button.b.danger[data-id='c:cancel']").count() == 1
    await shot(page, f"{lang}-review")
    stop = review.locator("button.b[data-id='c:cancel']")
    await stop.click()                                       # "exit" throws the answers away: a second tap to be sure
    await page.wait_for_timeout(200)
    assert await page.locator(".m.bot").count() == bots_now and not await stop.is_disabled()
    assert "?" in (await stop.text_content() or "").replace("？", "?")
    await tap(page, "c:ok")
    found = page.locator(".m.bot", has_text=question_text(lang)["found"]).last
    assert await found.evaluate("""n => { const a = n.getBoundingClientRect(), b = document.getElementById('log')
        .getBoundingClientRect(); return a.top >= b.top - 1 && a.top < b.top + 60; }""")   # the findings on top
    assert await page.locator("#jump").is_visible()                                # more below
    await shot(page, f"{lang}-findings")


async def letters(page, lang: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Share falls back to copy; the blanks filled; all letters in one file."""
    drafts = page.locator(".m.draft")
    assert await drafts.count() == 3
    first = drafts.nth(0)
    text = await first.locator(".t").text_content()
    share = first.locator(".acts button", has_text=ui("web.share", lang))
    await share.click()
    await page.wait_for_timeout(300)
    assert await page.evaluate("navigator.clipboard.readText()") == text         # copied instead
    third = drafts.nth(2)
    assert "【" in (await third.locator(".t").text_content() or "")
    await third.locator(".acts button", has_text="✎").click()
    inputs = third.locator(".fill input")
    await inputs.first.fill("张三" if lang == "zh" else "Zhang San")
    await shot(page, f"{lang}-fill")
    await third.locator(".fill button.primary").click()
    assert ("张三" if lang == "zh" else "Zhang San") in (await third.locator(".t").text_content() or "")
    async with page.expect_download() as info:
        await first.locator(".acts button", has_text=".txt").click()
    saved = tmp_path / f"letters-{lang}.txt"
    await (await info.value).save_as(saved)
    body = saved.read_text("utf-8")
    now = await first.locator(".t").text_content() or ""       # the same blank filled in every letter
    blank = ui("report.blank.name")                           # the letters are in Chinese in both sessions
    assert now != text and now == text.replace(blank, "张三" if lang == "zh" else "Zhang San")
    assert body.count("=" * 24) == 2 and now in body and blank not in body


async def reminder_and_delete(page, lang: str, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    await say(page, "/remind 30m 给12378打电话" if lang == "zh" else "/remind 30m call 12378")
    async with page.expect_download() as info:                                    # .ics
        await page.locator(".m.bot").last.locator("button.ics").click()
    ics = Path(await (await info.value).path()).read_text("utf-8")
    assert ics.startswith("BEGIN:VCALENDAR") and ics.count("BEGIN:VEVENT") == 1
    bots = await page.locator(".m.bot").count()
    clock.advance(minutes=31)
    await page.wait_for_selector(".m.reminder", timeout=10000)                    # without writing
    assert await page.locator(".m.bot").count() == bots + 1
    assert await page.locator(".m.reminder a[href='tel:12378']").count() == 1
    await shot(page, f"{lang}-reminder")
    # /delete: the screen and this device's storage are wiped
    await say(page, "/delete")
    await tap(page, "y:delete", count_bots=False)
    assert await page.locator(".m.me").count() == 0 and await page.locator(".m.draft").count() == 0
    assert await page.evaluate("localStorage.getItem('bg.session')") is None
    await shot(page, f"{lang}-deleted")
    await page.reload()
    await page.wait_for_selector(".m.bot")
    await settled(page)
    assert await page.locator(".m.draft").count() == 0


async def test_zh_phone_app_session(url: str, clock: ManualClock, tmp_path: Path) -> None:
    async with playwright.async_playwright() as p:
        browser, page = await open_page(p, url, "zh-CN", dark=False)
        try:
            assert await page.evaluate("document.documentElement.lang") == "zh-CN"
            assert await page.locator("label[for='in']").text_content() == ui("web.input_label")
            assert await page.locator("#send").text_content() == ui("web.send")
            await shot(page, "zh-start")
            await walk_report(page, "zh", reload_at_lender=True, url=url)
            await letters(page, "zh", tmp_path)
            # the menu: start over asks before anything is thrown away (the engine's question)
            await say(page, "/report")
            await tap(page, "o:borrower")
            await page.click("#menuBtn")
            await shot(page, "zh-menu")
            await page.click("#restart")
            await settled(page)
            last = page.locator(".m.bot").last
            assert await last.locator("button.b[data-id^='r:']").count() == 1      # continue ...
            assert await last.locator("button.b[data-id^='n:']").count() == 1      # ... or start over
            await reminder_and_delete(page, "zh", clock)
            # leave quickly: an ordinary page in its place
            await page.click("#leave")
            await page.wait_for_url("**/leave")
            assert "催收" not in (await page.content())
        finally:
            await browser.close()


async def test_en_phone_app_session_dark(url: str, clock: ManualClock, tmp_path: Path) -> None:
    async with playwright.async_playwright() as p:
        browser, page = await open_page(p, url, "en-US", dark=True)
        try:
            assert await page.evaluate("document.documentElement.lang") == "en"
            assert await page.locator("#send").text_content() == ui("web.send", "en")
            bg = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert bg == "rgb(17, 20, 23)"                                           # dark mode
            await shot(page, "en-start")
            await walk_report(page, "en", reload_at_lender=False, url=url)
            await letters(page, "en", tmp_path)
            # the chosen language wins over the browser's: /lang zh turns the page's labels too
            await say(page, "/lang zh")
            assert await page.evaluate("document.documentElement.lang") == "zh-CN"
            assert await page.locator("#send").text_content() == ui("web.send")
            await say(page, "/lang en")
            # a crisis message mid-report: its text with the numbers in view
            await say(page, "/report")
            await say(page, "I saved up sleeping pills and will take them all tonight")
            assert await in_view(page, ".m.crisis")
            assert await page.locator(".m.crisis a[href='tel:12356']").count() == 1
            await shot(page, "en-crisis")
            # reminders as notifications: permission asked, the service worker registered
            await page.click("#menuBtn")
            await page.click("#notify")
            await page.locator(".note", has_text=ui("web.notify_ok", "en")).wait_for()
            assert await page.evaluate("navigator.serviceWorker.getRegistration().then(r => !!r)")
            # clear from this device: local session gone, the server keeps it
            page.on("dialog", lambda d: d.accept())
            await page.click("#menuBtn")
            await page.click("#clear")
            assert await page.locator(".m.bot").count() == 0
            assert await page.evaluate("localStorage.getItem('bg.session')") is None
            # neutral title
            await page.click("#menuBtn")
            await page.click("#neutral")
            assert await page.title() == ui("web.neutral_title", "en")
        finally:
            await browser.close()
