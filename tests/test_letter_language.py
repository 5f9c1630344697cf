"""Letters in the language of the addressee (issue 19, item 5).

Every letter goes to a Chinese institution or person (the lender, NFRA and the local bureaus,
the police, an employer in China, contacts), so it is written in Chinese whatever language the
user chats in. A user chatting in English gets, after each Chinese letter, the same letter in
English as plain text marked "for you to read, do not send" (never a draft: no channel may
offer it to copy or share), and a button for English letters where the reader reads English.
The case view says which language the letters are in. Escalation letters follow the same rule.
"""

from __future__ import annotations

import re

import pytest

from bot.actions import report
from bot.actions.drafts import DRAFTS, render_drafts
from bot.actions.registry import ACTIONS
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply
from tests.conftest import NOW, ui, ui_head
from tests.test_complaints import Talk, record

# A report that needs every letter: employer, contacts, threats (police), negotiation.
SLOTS = {
    "role": "borrower", "lender_name": "Quick Cash", "lender_kind": "consumer_finance",
    "behaviours": ["called_employer", "called_contacts", "threats"], "work_who": ["boss"],
    "threat_words": "we know where you live", "consent": "not_agreed", "reachable": True,
    "started": "2026-11-01", "latest": "2026-11-18", "evidence": ["recordings"], "loan_known": False,
    "wants": ["stop_contact", "complain", "police", "negotiate"], "contact_by": "messages_only",
    "your_name": "Chen Jing", "your_phone": "13800001111",
}
CJK = re.compile(r"[\u4e00-\u9fff]{6}")


def mark(lang: str) -> str:
    """The line before a translation, in the reader's language: for you to read, do not send."""
    return ui("letter.translation", lang)


def outcome(engine: Engine, talk: Talk) -> list[Reply]:
    """The replies at the end of the report dialog, for these answers (as the engine calls it)."""
    ctx = engine._action_ctx(engine._context(engine.store.user_by_id(talk.user_id), Inbound(
        channel="test", user=talk.user, text="x")), dict(SLOTS))
    return ACTIONS["report_outcome"](ctx)


def letters(replies: list[Reply]) -> list[tuple[Reply, Reply | None]]:
    """Each draft with the reply right after it."""
    return [(r, replies[i + 1] if i + 1 < len(replies) else None) for i, r in enumerate(replies) if r.kind == "draft"]


def test_an_english_report_yields_chinese_letters_each_with_an_english_translation(engine: Engine) -> None:
    k = engine.k
    talk = Talk(engine, lang="en")
    replies = outcome(engine, talk)
    pairs = letters(replies)
    zh = render_drafts(SLOTS, k, "zh", NOW.date())
    en = render_drafts(SLOTS, k, "en", NOW.date())
    assert set(zh) == set(DRAFTS)                                     # every kind of letter is covered
    assert [d.draft_id for d, _ in pairs] == list(zh)
    for draft, after in pairs:
        # the letter to send: the Chinese one, exactly as the zh template writes it
        assert draft.text == zh[draft.draft_id] and CJK.search(draft.text), draft.draft_id
        # then its English translation, to read: plain text, not a draft, marked, no buttons
        assert after is not None and after.kind == "text" and after.draft_id is None and not after.buttons
        assert after.text == mark("en") + "\n\n" + en[draft.draft_id]
        # the line before it says the letter is in Chinese and is the one to send
        how = replies[replies.index(draft) - 1]
        assert how.kind == "text" and ui("letter.note.zh", "en") in how.text
        assert "[blanks]" not in how.text and "[brackets]" not in how.text    # the blanks are 【】
    regulator_how = replies[replies.index(next(d for d, _ in pairs if d.draft_id == "regulator_complaint")) - 1]
    assert ui("letter.blanks.zh", "en") in regulator_how.text
    title = next(r for r in replies if r.text.startswith(k.text("en", "report.out.drafts_title")))
    assert ui("letter.intro.zh", "en") in title.text and ui("letter.intro_button", "en") in title.text
    # the case keeps the letters as sent: in Chinese
    case = engine.store.cases(talk.user_id, "report")[0]
    assert case["data"]["drafts"] == zh
    assert f"k:e:{case['id']}" in [b.id for b in replies[-1].buttons]


def test_a_chinese_report_has_no_translations(engine: Engine) -> None:
    talk = Talk(engine, lang="zh")
    replies = outcome(engine, talk)
    zh = render_drafts(SLOTS, engine.k, "zh", NOW.date())
    pairs = letters(replies)
    assert [d.text for d, _ in pairs] == list(zh.values())
    for draft, after in pairs:                        # straight on to the next letter, or the closing line
        assert after is not None, draft.draft_id
        assert after is replies[-1] or any(after.text.startswith(ui_head(f"report.draft.{d}.how")) for d in zh)
    assert not any(mark("zh") in r.text or mark("en") in r.text for r in replies)
    assert not any(b.id.startswith("k:e:") for b in replies[-1].buttons)     # English letters: in /cases


def test_english_letters_on_request(engine: Engine) -> None:
    k = engine.k
    en = render_drafts(SLOTS, k, "en", NOW.date())
    zh = render_drafts(SLOTS, k, "zh", NOW.date())
    # a user chatting in English: English drafts, nothing to translate
    talk = Talk(engine, user="en-user", lang="en")
    outcome(engine, talk)
    case_id = engine.store.cases(talk.user_id, "report")[0]["id"]
    replies = talk.press(f"k:e:{case_id}")
    assert replies[0].text == k.text("en", "letter.english_intro")
    drafts = [r for r in replies if r.kind == "draft"]
    assert [(d.draft_id, d.text) for d in drafts] == list(en.items())
    assert not any(mark("en") in r.text for r in replies)
    assert [b.id for b in replies[-1].buttons] == [f"k:a:{case_id}", "k:l"]     # back to the Chinese letters
    back = talk.press(f"k:a:{case_id}")
    assert [d.text for d in back if d.kind == "draft"] == list(zh.values())
    one = talk.press(f"k:e:{case_id}:police_statement")
    assert [(r.kind, r.draft_id) for r in one] == [("text", None), ("draft", "police_statement")]
    assert one[1].text == en["police_statement"]
    # a user chatting in Chinese who needs English letters: each comes with a Chinese translation
    talk = Talk(engine, user="zh-user", lang="zh")
    outcome(engine, talk)
    case_id = engine.store.cases(talk.user_id, "report")[0]["id"]
    replies = talk.press(f"k:e:{case_id}")
    pairs = letters(replies)
    assert [(d.draft_id, d.text) for d, _ in pairs] == list(en.items())
    for draft, after in pairs:
        assert after is not None and after.kind == "text" and after.draft_id is None
        assert after.text == mark("zh") + "\n\n" + zh[draft.draft_id]
        assert ui("letter.note.en") in replies[replies.index(draft) - 1].text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_case_view_says_which_language_the_letters_are_in(engine: Engine, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    outcome(engine, talk)
    case_id = engine.store.cases(talk.user_id, "report")[0]["id"]
    replies = talk.press(f"k:v:{case_id}")
    pick = replies[-1]
    assert ui("cases.letters_in.zh", lang) in pick.text
    ids = [b.id for b in pick.buttons]
    assert f"k:e:{case_id}" in ids and f"k:a:{case_id}" in ids
    for b in pick.buttons:
        assert len(b.id.encode()) <= 64 and len(b.label) <= report.MAX_LABEL
    assert len(f"k:e:{2**63}:regulator_complaint".encode()) <= 64


def test_an_old_case_saved_with_english_letters_reads_with_chinese_ones(engine: Engine) -> None:
    """Cases saved before this change stored English letters for English users: they are
    re-rendered from the answers, so they now read like a new case."""
    talk = Talk(engine, lang="en")
    old = render_drafts(SLOTS, engine.k, "en", NOW.date())
    case_id = engine.store.save_case(talk.user_id, "report", "en", {"answers": SLOTS, "lang": "en", "drafts": old})
    replies = talk.press(f"k:a:{case_id}")
    assert [d.text for d, _ in letters(replies)] == list(render_drafts(SLOTS, engine.k, "zh", NOW.date()).values())
    assert all(after is not None and after.text.startswith(mark("en")) for _, after in letters(replies))


@pytest.mark.parametrize(("body", "kind", "answer", "draft"), [
    ("lender_service", "bank", "none", "escalate_regulator"),
    ("nfra", None, "unsolved", "escalate_review_request"),
    ("stop_request", "microloan", "continuing", "escalate_continuing"),
    ("police", None, "none", "escalate_followup"),
])
def test_escalation_letters_for_an_english_user_are_chinese_with_a_translation(
        engine: Engine, body: str, kind: str | None, answer: str, draft: str) -> None:
    talk = Talk(engine, lang="en")
    c = record(talk, body, lender="Quick Cash", kind=kind or "microloan", filed="2026-11-20")
    replies = talk.press(f"cpl:a:{c['id']}:{answer}")
    [(letter, after)] = letters(replies)
    assert letter.draft_id == draft and CJK.search(letter.text) and "2026年11月20日" in letter.text
    assert "Quick Cash" in letter.text
    assert after is not None and after.kind == "text" and after.draft_id is None and not after.buttons
    assert after.text.startswith(mark("en")) and "20 November 2026" in after.text
    assert not CJK.search(after.text.replace(mark("en"), ""))
    how = replies[0]
    assert ui("letter.note.zh", "en") in how.text and "[blanks]" not in how.text
    assert replies[-1].buttons                                      # then "when you've sent it"


def test_escalation_letters_for_a_chinese_user_have_no_translation(engine: Engine) -> None:
    talk = Talk(engine, lang="zh")
    c = record(talk, "lender_service", kind="bank")
    replies = talk.press(f"cpl:a:{c['id']}:none")
    assert [r.kind for r in replies] == ["text", "draft", "text"] and replies[-1].buttons
    assert ui("letter.blanks.zh") in replies[0].text
