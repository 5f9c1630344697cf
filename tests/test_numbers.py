"""Numbers as people type them (issue 19): Chinese numerals, mixed forms, estimates kept."""

from __future__ import annotations

import pytest

from bot.flow.inputs import Bad, Ok, parse_number
from bot.flow.models import Step
from bot.flow.numbers import Quantity, Vague, describe, parse_quantity, value_of

COUNT = Step(ask="report.calls_connected", input="number", integer=True, approx=True, min=0, max=5000)
MONEY = Step(ask="apr.contract", input="number", min=1, max=100_000_000)  # an exact figure


@pytest.mark.parametrize(("text", "value", "approx", "high"), [
    ("30", 30, None, None),
    ("三十", 30, None, None),
    ("三十次", 30, None, None),
    ("一天30次", 30, None, None),
    ("30次/天", 30, None, None),
    ("大概30次", 30, "about", None),
    ("大约30个", 30, "about", None),
    ("30左右", 30, "about", None),
    ("三十来次", 30, "about", None),
    ("差不多四十", 40, "about", None),
    ("30多次", 30, "over", None),
    ("三十几个", 30, "over", None),
    ("十几", 10, "over", None),
    ("至少30", 30, "over", None),
    ("上百", 100, "over", None),
    ("三四十条", 30, "range", 40),
    ("十七八个", 17, "range", 18),
    ("30-40", 30, "range", 40),
    ("30到40次", 30, "range", 40),
    ("about 40", 40, "about", None),
    ("40ish", 40, "about", None),
    ("~40", 40, "about", None),
    ("around forty", 40, "about", None),
    ("more than 30", 30, "over", None),
    ("40+", 40, "over", None),
    ("between 30 and 40", 30, "range", 40),
    ("30 a day", 30, None, None),
    ("没有", 0, None, None),
    ("none", 0, None, None),
    # amounts
    ("三千五", 3500, None, None),
    ("一万二", 12000, None, None),
    ("1.2万", 12000, None, None),
    ("两千", 2000, None, None),
    ("五千元", 5000, None, None),
    ("1万5", 15000, None, None),
    ("5,000", 5000, None, None),
    ("3k", 3000, None, None),
    ("三点五", 3.5, None, None),
    ("30多万", 300000, "over", None),
    ("大约1.2万元", 12000, "about", None),
])
def test_numbers_people_type(text: str, value: float, approx: str | None, high: float | None) -> None:
    assert parse_quantity(text) == Quantity(value, approx, high)


@pytest.mark.parametrize("text", ["几十", "好几十", "几百", "很多", "很多很多", "数不清", "dozens", "lots", "hundreds",
                                  "a lot"])
def test_answers_that_name_no_number_ask_for_a_closer_one(text: str) -> None:
    with pytest.raises(Vague):
        parse_quantity(text)
    result = parse_number(COUNT, text)
    assert isinstance(result, Bad) and result.reason == "vague_count"


@pytest.mark.parametrize("text", ["", "purple", "30abc", "不知道呢", "🙂", "x" * 50])
def test_no_number(text: str) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(("slot", "zh", "en"), [
    (30, "30", "30"),
    ({"n": 30, "approx": "about"}, "约30", "about 30"),
    ({"n": 30, "approx": "over"}, "30多", "more than 30"),
    ({"n": 30, "approx": "range", "hi": 40}, "30至40", "30 to 40"),
])
def test_estimates_are_shown_as_the_person_said_them(slot: object, zh: str, en: str) -> None:
    assert describe(slot, "zh") == zh and describe(slot, "en") == en
    assert value_of(slot) == 30


def test_a_count_keeps_its_estimate_and_checks_both_ends() -> None:
    assert parse_number(COUNT, "大概30次") == Ok({"n": 30, "approx": "about"})
    assert parse_number(COUNT, "30") == Ok(30)
    assert parse_number(COUNT, "三四十") == Ok({"n": 30, "approx": "range", "hi": 40})
    too_big = parse_number(COUNT, "4000-6000")
    assert isinstance(too_big, Bad) and too_big.reason == "too_big"
    half = parse_number(COUNT, "2.5")
    assert isinstance(half, Bad) and half.reason == "integer"


def test_an_exact_figure_is_asked_for_where_an_estimate_would_be_wrong() -> None:
    assert parse_number(MONEY, "三千五") == Ok(3500)
    assert parse_number(MONEY, "一万二") == Ok(12000)
    estimate = parse_number(MONEY, "大概5000")
    assert isinstance(estimate, Bad) and estimate.reason == "exact"
    negative = parse_number(MONEY, "-500")
    assert isinstance(negative, Bad) and negative.reason == "too_small"
