import datetime as dt

import pytest

from bot.flow.dates import DateError, parse_date

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
