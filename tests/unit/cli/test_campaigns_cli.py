"""`loa prices list|set` as a user types them: the defaults, a workspace's own price, and the
errors that name the fix."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.i18n import LoaError

Cli = Callable[..., Result]


@pytest.fixture
def cli(db_url: str) -> Cli:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, "--lang", "en", *args])


def flat(output: str) -> str:
    return " ".join(output.split())


def test_prices_list_the_defaults_and_a_set_price_replaces_one(cli: Cli) -> None:
    listed = json.loads(cli("prices", "list", "--json").stdout)
    assert listed[:3] == [
        {"carrier": "Viettel", "class": "qc", "price_vnd": 800, "custom": False},
        {"carrier": "Viettel", "class": "cskh", "price_vnd": 600, "custom": False},
        {"carrier": "Viettel", "class": "public", "price_vnd": 600, "custom": False},
    ]
    done = cli("prices", "set", "viettel", "QC", "850")
    assert done.exit_code == 0, done.output
    assert flat(done.output) == "Viettel QC price: 850 VND per part (the workspace's own price)."
    listed = json.loads(cli("prices", "list", "--json").stdout)
    assert listed[0] == {"carrier": "Viettel", "class": "qc", "price_vnd": 850, "custom": True}
    assert listed[1]["custom"] is False
    table = flat(cli("prices", "list").output)
    assert "Viettel │ QC │ 850 │ custom" in table
    assert "Viettel │ CSKH │ 600 │ default" in table


def error(result: Result) -> str:
    # The CLI's entry point prints a LoaError as "✗ message" and exits 2; the runner hands it over.
    assert isinstance(result.exception, LoaError), result.output
    return result.exception.render("en")


def test_prices_set_names_what_is_wrong(cli: Cli) -> None:
    assert error(cli("prices", "set", "fonetel", "qc", "850")) == (
        "There is no carrier 'fonetel'. Known: Viettel, MobiFone, VinaPhone, Vietnamobile, "
        "Gmobile, Itel, Reddi."
    )
    assert error(cli("prices", "set", "viettel", "qc", "--", "-5")) == (
        "The price per part must be a non-negative number of đồng (it is -5)."
    )
    assert error(cli("prices", "set", "viettel", "ads", "850")) == (
        "Message class 'ads' is not valid; use: qc, cskh, public."
    )
    listed = json.loads(cli("prices", "list", "--json").stdout)
    assert not any(p["custom"] for p in listed)  # nothing was changed
