"""How the dashboard writes money, numbers, dates and charts, in Vietnamese and English."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from loa.i18n import set_lang
from loa.web.charts import columns, hbars
from loa.web.core import day, moment, number, pct, vnd


@pytest.mark.parametrize(
    ("lang", "money", "count", "share"),
    [
        ("vi", "1.234.567 ₫", "12.345", "33,3%"),
        ("en", "1,234,567 ₫", "12,345", "33.3%"),
    ],
)
def test_money_and_numbers_follow_the_language(
    lang: str, money: str, count: str, share: str
) -> None:
    set_lang(lang)  # type: ignore[arg-type]
    assert vnd(1_234_567) == money
    assert number(12_345) == count
    assert pct(1, 3) == share
    assert vnd(None) == "—" and pct(5, 0).startswith("0")


def test_dates_are_day_month_year_in_vietnam_time() -> None:
    assert day(date(2026, 3, 5)) == "05/03/2026"
    # 17:30 UTC on 31 December is already the new year in Vietnam (UTC+7).
    assert day(datetime(2025, 12, 31, 17, 30, tzinfo=UTC)) == "01/01/2026"
    assert moment(datetime(2025, 12, 31, 17, 30, tzinfo=UTC)) == "00:30 01/01/2026"
    assert moment("2026-11-23T13:47:00+00:00") == "20:47 23/11/2026"
    assert day(None) == "—"


def test_charts_are_inline_svg_that_a_screen_reader_can_name() -> None:
    bars = str(hbars("Tình trạng <tin>", [("Đã tới máy", 3, "3 (100%)"), ("Lỗi", 0, "0")]))
    assert bars.startswith('<svg class="chart" role="img" aria-label="Tình trạng &lt;tin&gt;"')
    assert "<title>Tình trạng &lt;tin&gt;</title>" in bars
    assert ">3 (100%)</text>" in bars and "http" not in bars.replace("http://www.w3", "")
    cols = str(columns("14 ngày", ["22/11", "23/11"], [("Đã gửi", [0, 5])]))
    assert "<title>23/11: 5</title>" in cols
