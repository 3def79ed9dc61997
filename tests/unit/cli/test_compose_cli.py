"""`loa compose preview` as a marketer types it: the table, JSON for scripts, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.cli.common import console
from loa.store.db import Store
from loa.store.tables import brandnames, contacts

Cli = Callable[..., Result]
TEXT = '{{ gender | greeting }} {{ given_name | default("bạn") }} ơi, giảm 20%! https://shop.vn/a'


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    # Wide enough that no table cell wraps a message.
    monkeypatch.setattr(console, "width", 240)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, *args], terminal_width=200)


@pytest.fixture
def book(store: Store) -> Store:
    ws = store.workspace_id
    base: dict[str, Any] = {"workspace_id": ws, "given_name": None, "gender": None}
    with store.engine.begin() as conn:
        conn.execute(
            insert(brandnames).values(
                workspace_id=ws, name="SHOP", domains=["shop.vn"], optout_keyword="TC",
                optout_shortcode="9029", hotline="19001234",
            )
        )  # fmt: skip
        conn.execute(
            insert(contacts),
            [
                {**base, "phone": "+84912345678", "given_name": "Lan", "gender": "female",
                 "carrier": "Viettel"},
                {**base, "phone": "+84901234567", "carrier": "MobiFone"},
            ],
        )  # fmt: skip
    return store


def test_json(cli: Cli, book: Store) -> None:
    result = cli("compose", "preview", "--text", TEXT, "--all", "--sender", "SHOP", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["audience"], data["rendered"], data["failed"]) == (2, 2, 0)
    assert data["with_accents"]["shortest"]["text"] == (
        "[QC] Chị Lan ơi, giảm 20%! https://loa.vn/xxxxxxx. Tu choi QC soan TC gui 9029, goi "
        "19001234"
    )
    assert data["with_accents"]["parts_histogram"] == {"2": 2}
    assert data["with_accents"]["total_cost_vnd"] == 2 * 800 + 2 * 750
    assert data["without_accents"]["parts_histogram"] == {"1": 2}
    assert data["without_accents"]["total_cost_vnd"] == 800 + 750


def test_table(cli: Cli, book: Store) -> None:
    result = cli(
        "compose", "preview", "--text", TEXT, "--all", "--sender", "SHOP",
        "--short-domain", "s.shop.vn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 người nhận, 2 tin soạn được, 0 lỗi. Loại tin: QC." in result.output
    assert "Có dấu: GSM-7 0 tin nhắn, UCS-2 2 tin nhắn; số tin: 2: 2." in result.output
    assert "Không dấu: GSM-7 2 tin nhắn, UCS-2 0 tin nhắn; số tin: 1: 2." in result.output
    flat = " ".join(result.output.split())
    assert (
        "Ngắn nhất │ #1 (+84912345678) │ [QC] Chị Lan ơi, giảm 20%! https://s.shop.vn/xxxxxxx. "
        "Tu choi QC soan TC gui 9029, goi 19001234 │ UCS-2 │ 2 │"
    ) in flat
    assert "│ Viettel │ 1 │ 2 │ 800 │ 1.600 │ 800 │ │" in flat
    assert "│ MobiFone │ 1 │ 2 │ 750 │ 1.500 │ 750 │ │" in flat
    assert "│ Tổng │ 2 │ 4 │ │ 3.100 │ 1.550 │ │" in flat
    assert "Không dấu: 1.550đ thay vì 3.100đ (tiết kiệm 1.550đ)." in result.output


def test_english_and_unaccent(cli: Cli, book: Store) -> None:
    result = cli(
        "--lang", "en", "compose", "preview", "--text", TEXT, "--all", "--class", "cskh",
        "--unaccent",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 recipients, 2 messages rendered, 0 failed. Class: CSKH." in result.output
    assert "Chi Lan oi, giam 20%! https://loa.vn/xxxxxxx" in result.output


def test_segment_or_all_is_required(cli: Cli, book: Store) -> None:
    result = cli("compose", "preview", "--text", TEXT, "--class", "cskh")
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert str(result.exception) == (
        "Choose the recipients: --segment NAME or --all (every contact), not both."
    )


def test_template_errors_are_domain_errors(cli: Cli, book: Store) -> None:
    result = cli(
        "compose", "preview", "--text", "{% if x %}y{% endif %}", "--all", "--class", "cskh"
    )
    assert result.exception is not None
    assert getattr(result.exception, "code", None) == "templates.unsupported"
