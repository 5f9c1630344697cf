"""The evidence log's pure parts (bot/evidence/): the rules over time with property tests over
random event sequences, the timeline layout, the letters' summary, times as people type them,
and which messages look pasted from a collector."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.actions.evidence import _paste_words
from bot.evidence.model import CONTACT_KINDS, KINDS, STOP_SENT, WHO, Event
from bot.evidence.moment import parse_moment
from bot.evidence.paste import PasteWords, looks_pasted
from bot.evidence.rules import CONNECTED_CAP, RULES, UNANSWERED_CAP, check, is_night, per_day
from bot.evidence.summary import summarize
from bot.evidence.timeline import days, layout
from bot.knowledge.normalize import normalize

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=TZ)
START = NOW - dt.timedelta(days=30)
ROOT = Path(__file__).resolve().parent.parent / "content"


def event(i: int, at: dt.datetime, kind: str, who: str = "me", number: str | None = None,
          findings: tuple[str, ...] = (), source: str = "user") -> Event:
    return Event(id=i, at=at, kind=kind, who=who, number=number, findings=findings, source=source)


@st.composite
def logs(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(0, 60))
    out = []
    for i in range(1, n + 1):
        minutes = draw(st.integers(0, 30 * 24 * 60))
        kind = draw(st.sampled_from(KINDS))
        out.append(event(i, (START + dt.timedelta(minutes=minutes)).astimezone(dt.UTC), kind,
                         draw(st.sampled_from(WHO)), draw(st.sampled_from([None, "A", "B"])),
                         tuple(draw(st.lists(st.sampled_from(["threats", "visits", "third_parties"]),
                                             max_size=2, unique=True))),
                         draw(st.sampled_from(["user", "user", "scan", "witness"]))))
    return out


@settings(max_examples=300, deadline=None)
@given(events=logs(), zone=st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York"]),
       tracked=st.one_of(st.none(), st.integers(0, 30 * 24 * 60)))
def test_rules_over_random_logs(events: list[Event], zone: str, tracked: int | None) -> None:
    tz = ZoneInfo(zone)
    extra = START + dt.timedelta(minutes=tracked) if tracked is not None else None   # a stop request from /track
    result = check(events, tz, NOW, extra)
    contacts = [e for e in events if e.contact]
    by_id = {e.id: e for e in events}
    # a night count never exceeds the number of contacts, and is exactly the night ones
    night = next((f for f in result.findings if f.id == "night"), None)
    assert (night.count if night else 0) == sum(1 for e in contacts if e.timed and is_night(e.at, tz)) <= len(contacts)
    assert night is None or all(by_id[i].source != "scan" for i in night.event_ids)
    # contacts per day sum to the total
    assert sum(per_day(events, tz).values()) == len(contacts) == result.totals["all"]
    for f in result.findings:
        assert f.id in RULES
        # every finding cites existing contacts, each once, and says how many
        assert f.event_ids and len(set(f.event_ids)) == len(f.event_ids) == f.count
        assert all(i in by_id and by_id[i].contact for i in f.event_ids)
        assert f.days == tuple(sorted({by_id[i].local(tz).date() for i in f.event_ids}))
        if f.id == "connected_calls":
            assert all(n > CONNECTED_CAP for _, n in f.per_day) and sum(n for _, n in f.per_day) == f.count
            assert all(by_id[i].kind == "call_answered" and by_id[i].who == "me" for i in f.event_ids)
        if f.id == "dial_attempts":
            assert all(n > UNANSWERED_CAP for _, n in f.per_day) and sum(n for _, n in f.per_day) == f.count
        if f.id in ("after_stop", "third_party_reachable"):
            assert all(by_id[i].third_party for i in f.event_ids)
        if f.id == "after_stop":
            stop = min([e.at for e in events if e.kind == STOP_SENT] + ([extra] if extra else []))
            assert all(by_id[i].at > stop for i in f.event_ids)
            assert f.since == stop.astimezone(tz).date()
        if f.id == "scanned":
            assert all(f.detail in by_id[i].findings for i in f.event_ids)
    assert not any(f.id == "after_stop" for f in result.findings) or extra or any(e.kind == STOP_SENT for e in events)
    assert result.trend.this_week + result.trend.last_week <= len(contacts)
    # the timeline shows every event once, day by day
    grouped = days(events, tz)
    assert sum(len(d.events) for d in grouped) == len(events)
    assert sum(d.contacts for d in grouped) == len(contacts)
    assert sum(d.night for d in grouped) == (night.count if night else 0)
    lines, hidden = layout(events, tz, lambda d: str(d.day), limit=7)
    assert len(lines) == min(7, len(grouped)) and hidden == max(0, len(grouped) - 7)
    # the letters' summary agrees with the findings
    summary = summarize(events, tz, NOW, extra)
    if not contacts:
        assert summary is None
    else:
        assert summary is not None and summary.contacts == len(contacts)
        assert summary.night == (night.count if night else 0)
        after = next((f for f in result.findings if f.id == "after_stop"), None)
        assert summary.after_stop == (after.count if after else 0)
        assert summary.first <= summary.last and summary.third_party <= summary.contacts


def test_the_caps_count_per_local_day_and_per_number() -> None:
    morning = dt.datetime(2026, 11, 28, 9, 0, tzinfo=TZ)
    # 4 answered calls on one day, 3 on the next: one day over the cap
    events = [event(i, morning + dt.timedelta(minutes=10 * i), "call_answered") for i in range(4)]
    events += [event(10 + i, morning + dt.timedelta(days=1, minutes=i), "call_answered") for i in range(3)]
    # 7 unanswered from number A and 6 from B on one day: only A's day is over
    events += [event(20 + i, morning + dt.timedelta(minutes=i), "call_missed", number="A") for i in range(7)]
    events += [event(30 + i, morning + dt.timedelta(minutes=i), "call_missed", number="B") for i in range(6)]
    found = {f.id: f for f in check(events, TZ, NOW).findings}
    assert found["connected_calls"].per_day == ((dt.date(2026, 11, 28), 4),)
    assert found["dial_attempts"].per_day == ((dt.date(2026, 11, 28), 7),) and found["dial_attempts"].count == 7
    # 23:30 in Shanghai is 15:30 UTC: night here, not in UTC
    late = event(99, dt.datetime(2026, 11, 28, 23, 30, tzinfo=TZ), "message")
    assert is_night(late.at, TZ) and not is_night(late.at, dt.UTC)


def test_third_parties_while_reachable_and_after_the_stop_request() -> None:
    t0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
    events = [event(1, t0, "third_party_call", "employer"),                 # never reached me: allowed
              event(2, t0 + dt.timedelta(hours=1), "call_answered"),
              event(3, t0 + dt.timedelta(hours=2), "call_missed", "family"),  # right after I answered
              event(4, t0 + dt.timedelta(days=5), "visit", "family"),         # 5 days later: not "reachable"
              event(5, t0 + dt.timedelta(days=6), STOP_SENT),
              event(6, t0 + dt.timedelta(days=7), "group_post", "me"),        # a group post reaches others
              event(7, t0 + dt.timedelta(days=7, hours=1), "call_answered")]
    found = {f.id: f for f in check(events, TZ, NOW).findings}
    assert found["third_party_reachable"].event_ids == (3,)
    assert found["after_stop"].event_ids == (6,) and found["after_stop"].since == dt.date(2026, 11, 26)


@pytest.mark.parametrize(("text", "expected"), [
    ("刚才", NOW), ("just now", NOW),
    ("10分钟前", NOW - dt.timedelta(minutes=10)), ("10 minutes ago", NOW - dt.timedelta(minutes=10)),
    ("两小时前", NOW - dt.timedelta(hours=2)), ("an hour ago", NOW - dt.timedelta(hours=1)),
    ("昨晚11点", dt.datetime(2026, 11, 28, 23, 0, tzinfo=TZ)),
    ("昨天晚上11点半", dt.datetime(2026, 11, 28, 23, 30, tzinfo=TZ)),
    ("前天下午3点", dt.datetime(2026, 11, 27, 15, 0, tzinfo=TZ)),
    ("23:30", dt.datetime(2026, 11, 28, 23, 30, tzinfo=TZ)),            # not yet today: last night
    ("9:15", dt.datetime(2026, 11, 29, 9, 15, tzinfo=TZ)),
    ("11月27日 22:15", dt.datetime(2026, 11, 27, 22, 15, tzinfo=TZ)),
    ("last night at 11", dt.datetime(2026, 11, 28, 23, 0, tzinfo=TZ)),
    ("yesterday 23:30", dt.datetime(2026, 11, 28, 23, 30, tzinfo=TZ)),
    ("this morning at 8", dt.datetime(2026, 11, 29, 8, 0, tzinfo=TZ)),
    ("明天9点", None), ("in 10 minutes", None), ("whenever", None), ("", None),
])
def test_times_as_people_type_them(text: str, expected: dt.datetime | None) -> None:
    assert parse_moment(text, NOW) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_a_time_is_never_in_the_future_nor_a_crash(text: str) -> None:
    at = parse_moment(text, NOW)
    assert at is None or (at <= NOW + dt.timedelta(minutes=1) and at.tzinfo is not None)


def paste_words() -> PasteWords:
    """The shipped words (content/evidence.yaml, validated)."""
    return _paste_words(ROOT.resolve())


@pytest.mark.parametrize("text", [
    "【速借】您的账单已逾期，请今日还款。",
    "转发：你再不还钱我们就打你单位电话",
    "> Your loan is overdue, pay now or we call your family",
    "您好，您在我司的借款已经逾期30天了，您一直不接电话也不回信息，我们将按照合同约定通知您的紧急联系人，请您今天下午五点前务必处理，否则后果自负。",
    "Hello, this is Quick Cash collection. Your loan is now 30 days overdue and you have ignored all our calls. "
    "If you do not pay today we will contact your employer and your family about your debt.",
])
def test_collector_messages_look_pasted(text: str) -> None:
    assert looks_pasted(normalize(text), paste_words())


@pytest.mark.parametrize("text", [
    "网贷打我公司电话合法吗",
    "催收说要去我家上门，我该怎么办？他们每天打我电话几十次，我真的很害怕，我应该报警还是先投诉到银保监会？",
    "My lender keeps calling my boss about my loan. Is that legal? What can I do about it, and who should I "
    "complain to first, the lender or the regulator?",
    "他们又打来了",
    "催收发短信说：你再不还钱，我们就去你单位找你领导，让你家里人也知道你欠钱不还，你自己看着办吧。我该怎么办",
    "They texted: you will pay today or we will tell your boss and your family about your loan, your choice. "
    "Is that legal, and what can I do about it",
    "I want to repay my loan but I can't afford it",
])
def test_the_borrower_s_own_questions_do_not(text: str) -> None:
    assert not looks_pasted(normalize(text), paste_words())


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_paste_check_never_crashes(text: str) -> None:
    assert looks_pasted(normalize(text), paste_words()) in (True, False)


def test_every_kind_and_who_has_its_words(knowledge) -> None:  # type: ignore[no-untyped-def]
    for lang in knowledge.languages:
        for kind in KINDS:
            assert knowledge.has_text(lang, f"log.kind.opt.{kind}")
        for who in WHO:
            assert knowledge.has_text(lang, f"log.who.opt.{who}")
    assert set(CONTACT_KINDS) | {STOP_SENT} == set(KINDS)


def test_a_malformed_words_file_is_named_with_its_line(tmp_path: Path) -> None:
    from bot.actions.evidence import _words
    from bot.contentfiles import ContentError

    (tmp_path / "evidence.yaml").write_text("called_again:\n  zh: [又打来了]\npaste:\n  min_length: -3\n",
                                            encoding="utf-8")
    with pytest.raises(ContentError, match=r"evidence\.yaml"):
        _words(tmp_path)
