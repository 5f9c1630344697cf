"""Natural times for /remind, in the user's zone, including across daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.actions.when import MAX_AHEAD, WhenError, parse_when
from tests.conftest import ui

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=SH)  # a Sunday


@pytest.mark.parametrize(("text", "expected", "rest"), [
    # the forms the issue names
    ("明天9点 交电费", "2026-11-30 09:00", "交电费"),
    ("明天9点交电费", "2026-11-30 09:00", "交电费"),
    ("in 3 days call the bank", "2026-12-02 10:00", "call the bank"),
    ("2026-12-01 09:00 打电话给客服", "2026-12-01 09:00", "打电话给客服"),
    ("30m drink water", "2026-11-29 10:30", "drink water"),
    ("3天后 问投诉进度", "2026-12-02 10:00", "问投诉进度"),
    ("下周一 开庭", "2026-11-30 09:00", "开庭"),          # on a Sunday, next week's Monday is tomorrow
    # more Chinese
    ("下周一上午10点 交材料", "2026-11-30 10:00", "交材料"),
    ("周五下午3点 还款", "2026-12-04 15:00", "还款"),
    ("今晚8点 吃药", "2026-11-29 20:00", "吃药"),
    ("明天下午 去银行", "2026-11-30 15:00", "去银行"),
    ("2小时后 回电话", "2026-11-29 12:00", "回电话"),
    ("半小时后", "2026-11-29 10:30", ""),
    ("三天后九点半 提醒我打12378", "2026-12-02 09:30", "打12378"),
    ("12月1日 交房租", "2026-12-01 09:00", "交房租"),
    ("5号 交房租", "2026-12-05 09:00", "交房租"),
    ("2026年12月3日 14:30 开会", "2026-12-03 14:30", "开会"),
    ("9点 开会", "2026-11-30 09:00", "开会"),            # 9:00 today has passed: tomorrow's
    ("1个月后 查征信", "2026-12-29 10:00", "查征信"),
    # more English
    ("tomorrow at 9am pay", "2026-11-30 09:00", "pay"),
    ("9am tomorrow pay", "2026-11-30 09:00", "pay"),
    ("next friday 5pm dinner", "2026-12-04 17:00", "dinner"),
    ("dec 1 send the letter", "2026-12-01 09:00", "send the letter"),
    ("1 December 2026 09:15 court", "2026-12-01 09:15", "court"),
    ("in 2 hours", "2026-11-29 12:00", ""),
    ("in a week remind me to call", "2026-12-06 10:00", "call"),
    ("noon tomorrow lunch", "2026-11-30 12:00", "lunch"),
    ("monday check the ticket", "2026-11-30 09:00", "check the ticket"),
])
def test_reads_natural_times(text: str, expected: str, rest: str) -> None:
    when = parse_when(text, NOW)
    assert when.at.strftime("%Y-%m-%d %H:%M") == expected
    assert when.at.utcoffset() == dt.timedelta(hours=8)
    assert when.rest == rest


@pytest.mark.parametrize(("text", "reason"), [
    ("昨天", "past"),
    ("2025-01-01 09:00 old", "past"),
    ("今天8点", "past"),
    ("2026-02-30 9点", "no_such_date"),
    ("blah blah", "unparsed"),
    ("交电费", "unparsed"),
    ("3 things to do", "unparsed"),
    ("wedding gift", "unparsed"),
    ("2040-01-01", "too_far"),
])
def test_bad_times_say_why(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as err:
        parse_when(text, NOW)
    assert err.value.reason == reason


def test_past_error_names_the_time() -> None:
    with pytest.raises(WhenError) as err:
        parse_when("2026-11-28 09:00", NOW)
    assert err.value.at == dt.datetime(2026, 11, 28, 9, 0, tzinfo=SH)


NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def test_new_york_spring_forward_keeps_the_wall_clock_for_days() -> None:
    now = dt.datetime(2026, 3, 7, 10, 0, tzinfo=NY)   # EST; clocks go forward on 8 March
    tomorrow_9 = parse_when("明天9点", now).at
    assert tomorrow_9.astimezone(dt.UTC) == dt.datetime(2026, 3, 8, 13, 0, tzinfo=dt.UTC)  # 09:00 EDT
    one_day = parse_when("in 1 day", now).at
    assert (one_day.hour, one_day.minute) == (10, 0)
    assert one_day.astimezone(dt.UTC) - now.astimezone(dt.UTC) == dt.timedelta(hours=23)
    hours = parse_when("in 24 hours", now).at   # elapsed time: the clock reads 11:00 after the change
    assert hours.astimezone(dt.UTC) - now.astimezone(dt.UTC) == dt.timedelta(hours=24)
    assert hours.hour == 11


def test_berlin_time_skipped_by_dst_moves_forward() -> None:
    now = dt.datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)  # 29 March 02:00-03:00 does not exist
    at = parse_when("明天2点30 吃药", now).at
    assert at.astimezone(dt.UTC) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    assert (at.hour, at.minute) == (3, 30)


def test_berlin_fall_back() -> None:
    now = dt.datetime(2026, 10, 24, 18, 0, tzinfo=BERLIN)  # CEST; clocks go back on 25 October
    at = parse_when("tomorrow 9am", now).at
    assert at.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 8, 0, tzinfo=dt.UTC)  # 09:00 CET


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_a_future_time_or_a_reason(text: str) -> None:
    try:
        when = parse_when(text, NOW)
    except WhenError as err:
        assert err.reason in ("unparsed", "past", "no_such_date", "too_far")
        return
    assert NOW < when.at <= NOW + MAX_AHEAD
    assert when.at.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=1, max_value=10**30),
       unit=st.sampled_from(["m", "h", "d", "w", "分钟", "小时", "天", "周", "个月", " minutes", " hours", " days",
                             " weeks", " months"]),
       shape=st.sampled_from(["{n}{u} x", "in {n}{u} x", "{n}{u}后 x", "{n}{u}以后提醒我"]))
def test_any_amount_is_a_time_or_a_clear_refusal(n: int, unit: str, shape: str) -> None:
    """Huge amounts ("99999999999999999999m") are "too far", never an overflow."""
    text = shape.format(n=n, u=unit)
    try:
        when = parse_when(text, NOW)
    except WhenError as exc:
        assert exc.reason in {"unparsed", "too_far", "past", "no_such_date"}
        if n > 10**6:
            assert exc.reason in {"too_far", "unparsed"}
    else:
        assert NOW < when.at <= NOW + MAX_AHEAD


def test_a_huge_reminder_gets_the_too_far_reply(chat) -> None:  # type: ignore[no-untyped-def]
    chat.say("/lang en")
    text = "\n".join(r.text for r in chat.say("/remind 99999999999999999999m call the bank"))
    assert ui("remind.bad.too_far", "en") in text and ui("input.error", "en") not in text
