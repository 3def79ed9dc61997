"""`loa campaigns report ID --png FILE` and `loa reports png`: one PNG a manager can open, with
the HTML page's charts (states, from sent to bought, delivery by carrier, by segment), its
words in the user's language. The words are read from the figure's texts, not its pixels."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from matplotlib.text import Text
from tests.integration.test_report_segments import with_segments
from typer.testing import CliRunner

from loa.cli import app
from loa.i18n import Lang
from loa.services.tracking.export import report_figure, report_png
from loa.store.db import Store

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def texts(report: dict[str, Any], lang: Lang) -> list[str]:
    figure = report_figure(report, lang)
    figure.canvas.draw()  # tick labels exist once drawn
    return [t.get_text() for t in figure.findobj(Text) if t.get_visible() and t.get_text()]


def size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR, right after the signature)."""
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def test_the_png_charts_speak_vietnamese_or_english(store: Store) -> None:
    report, ids, _now = with_segments(store)
    vi = texts(report, "vi")
    assert f"Báo cáo chiến dịch #{ids['campaign']} — Tết VIP" in vi
    for title in (
        "Tình trạng tin nhắn",
        "Từ gửi tới mua",
        "Tỉ lệ đến máy theo nhà mạng (%)",
        "Tin đến máy theo phân khúc",
    ):
        assert title in vi
    # States, largest first, then the funnel, carriers and segments, in words.
    labels = (
        "Đã đến máy", "Nhóm đối chứng", "Không đến được", "Hết hạn", "Lỗi khi gửi",
        "Bị chặn (luật)", "Đã gửi", "Lượt nhấn (người)", "Đơn hàng", "viettel", "mobifone",
        "vinaphone", "Khách quen", "Khách VIP", "ngoài phân khúc",
    )  # fmt: skip
    for label in labels:
        assert label in vi, label
    # Each bar carries its value: 6 delivered of 8 sent; viettel 4 of 4 sent delivered (100%),
    # mobifone and vinaphone 1 of 2 (50%); 3 delivered in "Khách VIP".
    for value in (" 6", " 8", " 3", " 100", " 50"):
        assert value in vi, value
    assert any("ROI: 177.6" in t for t in vi)  # the key figures under the charts
    assert not [t for t in vi if "Where the messages stand" in t or "outside any" in t]

    en = texts(report, "en")
    assert f"Campaign report #{ids['campaign']} — Tết VIP" in en
    for label in ("Where the messages stand", "From sent to bought", "Delivered by segment",
                  "Delivery rate by carrier (%)", "Delivered", "Holdout", "Blocked (law)",
                  "Unique clicks", "outside any segment", "Khách VIP"):  # fmt: skip
        assert label in en, label
    assert "ngoài phân khúc" not in en and "Tình trạng tin nhắn" not in en


def test_the_png_is_an_image_of_a_sane_size(store: Store) -> None:
    report, _ids, _now = with_segments(store)
    png = report_png(report, "vi")
    assert png.startswith(PNG_SIGNATURE)
    assert size(png) == (1200, 800)  # two rows of two charts, 100 dots per inch
    assert 20_000 < len(png) < 1_000_000


@pytest.mark.parametrize(
    ("lang", "wrote"), [("vi", "Đã ghi báo cáo vào"), ("en", "Wrote the report to")]
)
def test_loa_campaigns_report_writes_the_png(
    store: Store, db_url: str, tmp_path: Path, lang: str, wrote: str
) -> None:
    _report, ids, _now = with_segments(store)
    runner = CliRunner()
    image = tmp_path / f"báo-cáo-{lang}.png"
    got = runner.invoke(
        app,
        ["--db", db_url, "--lang", lang, "campaigns", "report", str(ids["campaign"]),
         "--png", str(image)],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    assert wrote in got.output.replace("\n", "")
    assert size(image.read_bytes()) == (1200, 800)
    other = tmp_path / "again.png"
    again = runner.invoke(
        app, ["--db", db_url, "--lang", lang, "reports", "png", str(ids["campaign"]), "-o",
              str(other)],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert other.read_bytes()[:8] == PNG_SIGNATURE
