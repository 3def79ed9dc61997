"""The campaign report by segment (the included segment that brought each recipient in): the
same figures as by variant, messages outside any segment under words of their own, in JSON,
CSV, the HTML page, the CLI table and the dashboard's analysis page."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import update
from tests.integration.test_tracking import seeded_report
from tests.integration.test_web import TestClient, sign_in, user
from typer.testing import CliRunner

from loa.cli import app
from loa.config import Settings
from loa.server import create_app
from loa.services.tracking import report as tracking_report
from loa.services.tracking.export import report_csv, report_html
from loa.services.tracking.report import campaign_report
from loa.store.db import Store
from loa.store.tables import outbox

# Who came in by which segment; b3, b4 and b5 by none (a list, or sent before segments were
# recorded). The holdout came in by "Khách VIP" too, and counts for none of them.
SEGMENT_OF: dict[str, str | None] = {
    "a1": "Khách VIP",
    "a2": "Khách VIP",
    "b1": "Khách VIP",
    "a3": "Khách quen",
    "a4": "Khách quen",
    "a5": "Khách quen",
    "b2": "Khách quen",
    "b3": None,
    "b4": None,
    "b5": None,
    **{f"h{i}": "Khách VIP" for i in range(1, 5)},
}


def with_segments(store: Store) -> tuple[dict[str, Any], dict[str, Any], datetime]:
    """The seeded campaign of test_tracking (clicks by people and bots, orders credited),
    each message marked with the segment that brought its recipient in; the report again."""
    _first, ids, now = seeded_report(store)
    with store.engine.begin() as conn:
        for key, segment in SEGMENT_OF.items():
            conn.execute(
                update(outbox).where(outbox.c.id == ids[key]["outbox"]).values(segment=segment)
            )
    return report_of(store, ids["campaign"], now), ids, now


def report_of(store: Store, campaign_id: int, now: datetime) -> dict[str, Any]:
    with store.engine.begin() as conn:
        return campaign_report(
            conn, workspace_id=store.workspace_id, campaign_id=campaign_id, now=now
        )


FIGURES = (
    "segment", "label_vi", "label_en", "recipients", "suppressed", "sent", "delivered",
    "undelivered", "expired", "failed", "pending", "unique_clicks", "orders", "buyers",
    "revenue_vnd", "cost_vnd", "planned_vnd", "roi", "delivery_rate", "ctr",
    "conversion_rate", "cost_per_delivered_vnd", "cost_per_click_vnd", "cost_per_order_vnd",
)  # fmt: skip


def test_the_report_breaks_every_figure_down_by_segment(store: Store) -> None:
    report, _ids, _now = with_segments(store)
    rows = [tuple(s[k] for k in FIGURES) for s in report["by_segment"]]
    assert rows == [
        # Largest first: a3, a4, a5 (undelivered 027) and b2; a3's order was credited by the
        # message it was shown (200,000 đ); b2's opener was a script, not a person.
        ("Khách quen", "Khách quen", "Khách quen", 4, 0, 4, 3, 1, 0, 0, 0, 0, 1, 1,
         200_000, 2_800, 2_800, 70.4286, 0.75, 0.0, 0.25, 933, None, 2_800),
        # a1, a2 and b1, all delivered and clicked; a1 (500,000 đ) and b1 (300,000 đ) bought.
        ("Khách VIP", "Khách VIP", "Khách VIP", 3, 0, 3, 3, 0, 0, 0, 0, 3, 2, 2,
         800_000, 2_100, 2_100, 379.9524, 1.0, 1.0, 0.666667, 700, 700, 1_050),
        # Last, whatever its size: b3 expired, b4 failed before it was sent, b5 was blocked.
        (None, "ngoài phân khúc", "outside any segment", 3, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0,
         0, 700, 1_400, -1.0, 0.0, None, 0.0, None, None, None),
    ]  # fmt: skip
    # The parts add up to the campaign, holdout apart.
    for key in ("recipients", "sent", "delivered", "unique_clicks", "orders", "revenue_vnd"):
        assert sum(s[key] for s in report["by_segment"]) == report[key], key
    assert report["holdout"] == 4


def test_a_campaign_without_segments_is_all_outside_any_segment(store: Store) -> None:
    report, _ids, _now = seeded_report(store)
    [outside] = report["by_segment"]
    assert (outside["segment"], outside["label_en"], outside["recipients"]) == (
        None,
        "outside any segment",
        10,
    )
    assert (outside["delivered"], outside["orders"], outside["roi"]) == (6, 3, 177.5714)


def test_grouped_by_polars_or_by_sql_the_segments_read_the_same(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, ids, now = with_segments(store)
    monkeypatch.setattr(tracking_report, "_sqlite_read_outbox", lambda conn, cid: None)
    tracking_report._REMEMBERED.clear()  # read the rows again, not the groups remembered
    assert report_of(store, ids["campaign"], now) == report


def test_segments_in_csv_and_html_in_the_users_language(store: Store) -> None:
    report, _ids, _now = with_segments(store)
    rows = list(csv.reader(io.StringIO(report_csv(report, "vi"))))
    assert ["by_segment", "Khách quen", "recipients", "4"] in rows
    assert ["by_segment", "Khách VIP", "revenue_vnd", "800000"] in rows
    assert ["by_segment", "ngoài phân khúc", "suppressed", "1"] in rows
    assert not [r for r in rows if r[2] in ("label_vi", "label_en", "segment")]
    english = list(csv.reader(io.StringIO(report_csv(report, "en"))))
    assert ["by_segment", "outside any segment", "expired", "1"] in english

    page = report_html(report, "vi")
    assert "<h2>Theo phân khúc</h2>" in page
    assert "<td>ngoài phân khúc</td>" in page and "<td>Khách quen</td>" in page
    assert "<h2>Tình trạng tin nhắn</h2>" in page
    english_page = report_html(report, "en")
    assert "<h2>By segment</h2>" in english_page
    assert "<td>outside any segment</td>" in english_page


def test_the_cli_table_shows_the_segments(store: Store, db_url: str) -> None:
    _report, ids, _now = with_segments(store)
    runner = CliRunner()
    got = runner.invoke(
        app, ["--db", db_url, "--lang", "en", "campaigns", "report", str(ids["campaign"])]
    )
    assert got.exit_code == 0, got.output
    assert "By segment" in got.output
    assert "outside any segment" in got.output and "Khách VIP" in got.output
    vi = runner.invoke(
        app, ["--db", db_url, "--lang", "vi", "campaigns", "report", str(ids["campaign"])]
    )
    assert vi.exit_code == 0, vi.output
    assert "Theo phân khúc" in vi.output and "ngoài phân khúc" in vi.output


def test_the_dashboards_analysis_page_shows_the_segments(store: Store, db_url: str) -> None:
    _report, ids, _now = with_segments(store)
    user(store, "owner@shop.vn")
    user(store, "analyst@shop.vn", role="analyst", lang="en")
    app_ = create_app(Settings(database_url=db_url), store=store)
    with TestClient(app_) as client:
        assert sign_in(client, "owner@shop.vn").status_code == 303
        page = client.get(f"/campaigns/{ids['campaign']}/analysis")
        assert page.status_code == 200
        assert "Theo phân khúc" in page.text
        assert "<td>ngoài phân khúc</td>" in page.text and "<td>Khách quen</td>" in page.text
    with TestClient(app_) as client:
        assert sign_in(client, "analyst@shop.vn").status_code == 303
        english = client.get(f"/campaigns/{ids['campaign']}/analysis")
        assert english.status_code == 200
        assert "By segment" in english.text
        assert "<td>outside any segment</td>" in english.text
