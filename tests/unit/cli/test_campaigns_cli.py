"""`loa campaigns create` schedule options as a user types them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from loa.cli import app
from loa.services.campaigns.service import get_campaign
from loa.store.db import Store


def test_best_hour_is_stored_with_the_golden_hours_it_falls_back_to(
    db_url: str, store: Store
) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["--db", db_url, "--lang", "en", "campaigns", "create", "--name", "Sale", "--class",
         "qc", "--sender", "SHOPABC", "--segment", "all", "--text", "Giam 20% hom nay",
         "--golden-hours", "retail", "--best-hour", "--json"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    cid = int(json.loads(created.output)["id"])
    with store.engine.connect() as conn:
        schedule = get_campaign(conn, workspace_id=store.workspace_id, campaign_id=cid).schedule
    assert (schedule.mode, schedule.preset, schedule.best_hour) == ("golden", "retail", True)
