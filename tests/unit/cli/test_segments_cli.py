"""`loa segments ...` as a marketer types it: exact output, JSON for scripts, Vietnamese errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner, Result

import loa.cli
from loa.cli import app
from loa.i18n import LoaError
from loa.store.db import Store
from loa.store.tables import contacts, events

Cli = Callable[..., Result]


@pytest.fixture
def cli(db_url: str) -> Cli:
    """Runs `loa --db URL ...` on the test's store."""
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, *args])


@pytest.fixture
def book(store: Store) -> Store:
    """Three contacts; the first bought twice this month, the second once last year."""
    now = datetime.now(UTC)
    ws = store.workspace_id
    with store.engine.begin() as conn:
        rows: list[dict[str, Any]] = [
            {"phone": "+84912345678", "name": "Nguyễn Văn An", "province": "Hà Nội",
             "carrier": "VinaPhone"},
            {"phone": "+84987654321", "name": "Trần Thị Bình", "province": "Đà Nẵng",
             "carrier": "Viettel"},
            {"phone": "+84901234567", "name": None, "province": "Hà Nội", "carrier": "MobiFone"},
        ]  # fmt: skip
        add = insert(contacts).returning(contacts.c.id)
        ids = [conn.execute(add.values(workspace_id=ws, **row)).scalar_one() for row in rows]
        conn.execute(
            insert(events),
            [
                {"workspace_id": ws, "contact_id": ids[0], "type": "purchase",
                 "occurred_at": now - timedelta(days=3), "value_vnd": 1_500_000},
                {"workspace_id": ws, "contact_id": ids[0], "type": "purchase",
                 "occurred_at": now - timedelta(days=5), "value_vnd": 250_000},
                {"workspace_id": ws, "contact_id": ids[1], "type": "purchase",
                 "occurred_at": now - timedelta(days=400), "value_vnd": 90_000},
            ],
        )  # fmt: skip
    return store


def flat(output: str) -> str:
    return " ".join(output.split())


def test_create_count_preview_delete(book: Store, cli: Cli) -> None:
    rule = '{"attr": "province", "op": "eq", "value": "Hà Nội"}'
    created = cli("segments", "create", "ha-noi", "--rule", rule, "--description", "Khách HN")
    assert created.exit_code == 0, created.output
    assert created.output == "Đã tạo phân khúc 'ha-noi': hiện có 2 khách hàng.\n"

    counted = cli("segments", "count", "ha-noi", "--json")
    assert json.loads(counted.output) == {"segment": "ha-noi", "count": 2}
    assert cli("segments", "count", "ha-noi").output == "ha-noi: 2 khách hàng.\n"

    assert cli("segments", "refresh").output == (
        "Đã tính lại số liệu mua hàng và điểm RFM cho 2 khách hàng đã mua.\n"
    )
    preview = cli("segments", "preview", "ha-noi", "--json")
    assert json.loads(preview.output) == [
        {"phone": "+84912345678", "name": "Nguyễn Văn An", "province": "Hà Nội",
         "carrier": "VinaPhone", "orders_count": 2, "total_spend_vnd": 1_750_000},
        {"phone": "+84901234567", "name": None, "province": "Hà Nội", "carrier": "MobiFone",
         "orders_count": 0, "total_spend_vnd": 0},
    ]  # fmt: skip
    table = cli("segments", "preview", "ha-noi", "--limit", "1")
    assert "+84912345678" in table.output and "1.750.000" in table.output
    assert "+84901234567" not in table.output

    deleted = cli("segments", "delete", "ha-noi")
    assert deleted.output == "Đã xoá phân khúc 'ha-noi'.\n"
    gone = cli("segments", "count", "ha-noi")
    assert isinstance(gone.exception, LoaError)
    assert gone.exception.code == "segments.unknown"


def test_list_shows_builtins_with_vietnamese_labels_and_counts(book: Store, cli: Cli) -> None:
    cli("segments", "create", "có email", "--rule", '{"attr": "email", "op": "exists"}')
    listed = cli("segments", "list", "--counts", "--json")
    assert listed.exit_code == 0, listed.output
    assert [
        (s["name"], s["title"], s["builtin"], s["count"]) for s in json.loads(listed.output)
    ] == [
        ("all", "Tất cả khách hàng", True, 3),
        ("new", "Khách mới (30 ngày)", True, 3),
        ("potential", "Khách tiềm năng (chưa mua)", True, 1),
        ("past_buyers", "Khách đã mua", True, 2),
        ("loyal", "Khách trung thành", True, 0),  # no stats until a refresh
        ("vip", "Khách VIP (chi tiêu cao nhất)", True, 0),
        ("at_risk", "Khách sắp rời bỏ (mua lần cuối 90–180 ngày trước)", True, 0),
        ("inactive", "Khách ngủ đông (180 ngày chưa mua lại)", True, 1),
        ("wholesale", "Khách sỉ", True, 0),
        ("retail", "Khách lẻ", True, 3),
        ("có email", "", False, 0),
    ]
    table = flat(cli("--lang", "en", "segments", "list").output)
    assert "│ past_buyers │ Past buyers │ built-in │" in table
    assert "│ có email │ │ saved │" in table


def test_count_an_ad_hoc_rule(book: Store, cli: Cli) -> None:
    rule = '{"event": "purchase", "count": {"gte": 2}, "within_days": 90}'
    assert json.loads(cli("segments", "count", rule, "--json").output)["count"] == 1


def test_a_bad_rule_is_refused_with_the_place_and_the_fix(book: Store, cli: Cli) -> None:
    result = cli("segments", "create", "x", "--rule", '{"event": "purchase", "count": 2}')
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        'rule.count phải là một phép so sánh như {"gte": 2} với eq, ne, gt, gte, lt, lte; '
        "không phải 2."
    )


def test_builtin_names_are_reserved(book: Store, cli: Cli) -> None:
    result = cli("segments", "create", "vip", "--rule", '{"tag": "vip"}')
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        "'vip' là tên phân khúc có sẵn; chọn tên khác. Tên có sẵn: all, new, potential, "
        "past_buyers, loyal, vip, at_risk, inactive, wholesale, retail."
    )


def test_main_prints_the_error_in_the_chosen_language(
    book: Store,
    db_url: str,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["loa", "--db", db_url, "--lang", "en", "segments", "delete", "all"]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as stopped:
        loa.cli.main()
    assert stopped.value.code == 2
    assert flat(capsys.readouterr().err) == "✗ 'all' is a built-in segment and cannot be deleted."
