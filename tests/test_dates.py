import datetime as dt

import pytest

from bot.flow.dates import BareDay, DateError, PastDay, WholeMonth, parse_date, parse_day, read_day
from bot.flow.inputs import Bad, Confirm, Ok, parse_date_answer
from bot.flow.models import Step

TODAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-20", dt.date(2026, 11, 20)),
    ("2026/11/20", dt.date(2026, 11, 20)),
    ("2026年11月3日", dt.date(2026, 11, 3)),
    ("２０２６－１１－２０", dt.date(2026, 11, 20)),
    ("11月20日", dt.date(2026, 11, 20)),
    ("11月20号", dt.date(2026, 11, 20)),
    ("12月1日", dt.date(2025, 12, 1)),   # no year: the most recent such day
    ("2月29日", dt.date(2024, 2, 29)),
    ("昨天", dt.date(2026, 11, 28)),
    ("yesterday", dt.date(2026, 11, 28)),
    ("Today", dt.date(2026, 11, 29)),
    ("今天", dt.date(2026, 11, 29)),
    ("前天", dt.date(2026, 11, 27)),
    ("3天前", dt.date(2026, 11, 26)),
    ("2 days ago", dt.date(2026, 11, 27)),
])
def test_dates_people_type(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "2月30日", "2025-13-01", "4月31日"])
def test_impossible_dates_are_reported(text):
    with pytest.raises(DateError):
        parse_date(text, TODAY)


@pytest.mark.parametrize("text", ["", "hello", "不知道", "x" * 100, "🙂"])
def test_non_dates(text):
    assert parse_date(text, TODAY) is None


# --- issue 19: one grammar, nothing silently a date -------------------------------------------


WED = dt.date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(("text", "expected"), [
    ("十一月一号", PastDay(dt.date(2026, 11, 1))),
    ("十一月二十三日", PastDay(dt.date(2026, 11, 23))),
    ("前天晚上", PastDay(dt.date(2026, 11, 30))),
    ("前天晚上11点", PastDay(dt.date(2026, 11, 30))),
    ("昨天下午3点", PastDay(dt.date(2026, 12, 1))),
    ("大前天", PastDay(dt.date(2026, 11, 29))),
    ("上周三", PastDay(dt.date(2026, 11, 25))),
    ("上个星期五", PastDay(dt.date(2026, 11, 27))),
    ("上上周一", PastDay(dt.date(2026, 11, 16))),
    ("周一", PastDay(dt.date(2026, 11, 30))),
    ("周三", PastDay(dt.date(2026, 12, 2))),
    ("last Tuesday night", PastDay(dt.date(2026, 12, 1))),
    ("last wednesday", PastDay(dt.date(2026, 11, 25))),
    ("yesterday evening", PastDay(dt.date(2026, 12, 1))),
    ("3天前", PastDay(dt.date(2026, 11, 29))),
    ("两个星期前", PastDay(dt.date(2026, 11, 18))),
    ("a week ago", PastDay(dt.date(2026, 11, 25))),
    ("上个月5号", PastDay(dt.date(2026, 11, 5))),
    ("5号", PastDay(dt.date(2026, 11, 5))),
    ("大概是11月20号左右", PastDay(dt.date(2026, 11, 20))),
    ("Nov 20", PastDay(dt.date(2026, 11, 20))),
    ("20 November 2026", PastDay(dt.date(2026, 11, 20))),
    ("11/20", PastDay(dt.date(2026, 11, 20))),
    ("12月25日", PastDay(dt.date(2025, 12, 25))),
    ("11月初", PastDay(dt.date(2026, 11, 1), "early")),
    ("11月中旬", PastDay(dt.date(2026, 11, 11), "mid")),
    ("11月底", PastDay(dt.date(2026, 11, 21), "late")),
    ("十月底", PastDay(dt.date(2026, 10, 21), "late")),
    ("2025年12月初", PastDay(dt.date(2025, 12, 1), "early")),
    ("early November", PastDay(dt.date(2026, 11, 1), "early")),
    ("end of October", PastDay(dt.date(2026, 10, 21), "late")),
])
def test_past_days_people_type(text: str, expected: PastDay) -> None:
    assert parse_day(text, WED) == expected


@pytest.mark.parametrize(("text", "meant"), [
    ("7", dt.date(2026, 11, 7)),    # 7 December has not happened yet: the 7th before it
    ("1", dt.date(2026, 12, 1)),
    ("七", dt.date(2026, 11, 7)),
    ("31", dt.date(2026, 10, 31)),  # November has no 31st
])
def test_a_bare_number_is_never_silently_a_date(text: str, meant: dt.date) -> None:
    with pytest.raises(BareDay) as asked:
        parse_day(text, WED)
    assert asked.value.day == meant
    assert parse_date(text, WED) is None


@pytest.mark.parametrize(("text", "year", "month"), [
    ("11月", 2026, 11), ("十一月", 2026, 11), ("上个月", 2026, 11), ("last month", 2026, 11),
    ("November", 2026, 11), ("2025年3月", 2025, 3), ("这个月", 2026, 12),
])
def test_a_month_alone_asks_which_day(text: str, year: int, month: int) -> None:
    with pytest.raises(WholeMonth) as asked:
        parse_day(text, WED)
    assert (asked.value.year, asked.value.month) == (year, month)


@pytest.mark.parametrize("text", ["", "不知道", "hello", "30多", "0", "32", "记不清了"])
def test_not_a_day(text: str) -> None:
    assert parse_day(text, WED) is None


def test_the_date_answer_asks_refuses_the_future_and_keeps_a_part_of_a_month() -> None:
    step = Step(ask="report.started", input="date", past_only=True, approx=True)
    asked = parse_date_answer(step, "7", WED, "en")
    assert isinstance(asked, Confirm) and asked.value == "2026-11-07" and dict(asked.values) == {
        "date": "7 November 2026"}
    future = parse_date_answer(step, "12月底", WED)
    assert isinstance(future, Bad) and future.reason == "future_date"
    assert parse_date_answer(step, "下周一", WED) == Bad("future_date")
    assert parse_date_answer(step, "11月初", WED) == Ok({"d": "2026-11-01", "approx": "early"})
    month = parse_date_answer(step, "11月", WED, "zh")
    assert isinstance(month, Bad) and month.reason == "date_month" and dict(month.values) == {"month": "2026年11月"}
    exact = Step(ask="complaints.filed_on", input="date", past_only=True)  # a deadline counts from it
    assert parse_date_answer(exact, "11月初", WED) == Bad("exact_day")


def test_reminders_read_days_with_the_same_grammar_looking_ahead() -> None:
    assert read_day("周一", 0, WED, "future").day == dt.date(2026, 12, 7)
    assert read_day("周一", 0, WED, "past").day == dt.date(2026, 11, 30)
    assert read_day("5号", 0, WED, "future").day == dt.date(2026, 12, 5)
    assert read_day("5号", 0, WED, "past").day == dt.date(2026, 11, 5)
    assert read_day("十一月一号", 0, WED, "future").day == dt.date(2027, 11, 1)


def test_part_of_a_month_is_shown_as_said() -> None:
    rough = PastDay(dt.date(2026, 11, 1), "early")
    assert rough.text("zh") == "2026年11月初" and rough.text("en") == "early November 2026"
    assert PastDay.from_slot(rough.slot()) == rough
    assert PastDay.from_slot("2026-11-03") == PastDay(dt.date(2026, 11, 3))
    assert PastDay.from_slot({"d": "nonsense", "approx": "early"}) is None
