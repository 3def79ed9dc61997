"""`loa campaigns report`, `loa reports compare` and `loa reports html` as a user types them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.test_tracking import seeded_report
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.store.db import Store

Cli = Callable[..., Result]


@pytest.fixture
def cli(db_url: str) -> Cli:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, "--lang", "en", *args])


def test_campaign_report_as_json_csv_table_and_html(cli: Cli, store: Store, tmp_path: Path) -> None:
    _, ids, _ = seeded_report(store)
    cid = str(ids["campaign"])
    got = cli("campaigns", "report", cid, "--json")
    assert got.exit_code == 0, got.output
    data = json.loads(got.output)
    for key in (
        "recipients", "suppressed", "sent", "delivered", "undelivered", "expired", "uncertain",
        "unique_clicks", "orders", "revenue_vnd", "cost_vnd", "roi", "by_variant",
        "by_carrier", "failures", "latency_s", "budget", "series", "incremental", "ab_test",
    ):  # fmt: skip
        assert key in data
    assert (data["sent"], data["delivered"], data["unique_clicks"]) == (8, 6, 3)
    assert data["cost_vnd"] == 5_600
    assert data["by_status"] == {
        "delivered": 6, "expired": 1, "failed": 1, "holdout": 4, "suppressed": 1,
        "undelivered": 1,
    }  # fmt: skip

    table = cli("campaigns", "report", cid)
    assert table.exit_code == 0, table.output
    assert "Campaign #" in table.output and "'Tết VIP'" in table.output
    assert "absent subscriber (phone off or out of range)" in table.output
    assert "The sample is too small to conclude" in table.output

    rows = list(csv.reader(io.StringIO(cli("campaigns", "report", cid, "--csv").output)))
    assert rows[0] == ["section", "name", "metric", "value"]
    assert ["total", "", "delivered", "6"] in rows
    assert ["by_variant", "A", "delivered", "4"] in rows
    assert ["failures", "undelivered:027", "count", "1"] in rows

    page = tmp_path / "report.html"
    wrote = cli("reports", "html", cid, "-o", str(page))
    assert wrote.exit_code == 0, wrote.output
    assert f"Wrote the report to {page}" in wrote.output.replace("\n", "")
    html = page.read_text()
    assert html.count("<svg") >= 4
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert "<script" not in html
    assert "Campaign report #" in html


def test_reports_compare_prints_campaigns_side_by_side(cli: Cli, store: Store) -> None:
    _, ids, _ = seeded_report(store)
    got = cli("reports", "compare", str(ids["campaign"]), str(ids["campaign"]), "--json")
    assert got.exit_code == 0, got.output
    rows = json.loads(got.output)
    assert [(r["name"], r["delivered"], r["unique_clicks"]) for r in rows] == [
        ("Tết VIP", 6, 3),
        ("Tết VIP", 6, 3),
    ]
    as_csv = cli("reports", "compare", str(ids["campaign"]), "--csv").output.splitlines()
    assert as_csv[0].startswith("campaign_id,name,state,recipients,sent,delivered")
    table = cli("reports", "compare", str(ids["campaign"]))
    assert table.exit_code == 0 and "Unique clicks" in table.output


def test_an_unknown_campaign_is_named_with_the_fix(cli: Cli) -> None:
    got = cli("campaigns", "report", "999")
    assert got.exit_code != 0
    assert "There is no campaign #999 in this workspace" in str(got.exception)
