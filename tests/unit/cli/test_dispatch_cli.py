"""`loa routes`, `loa worker` and `loa campaigns report` as a user types them, against the
sandbox SMSC running as its own process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.smpp_peers import Peer, sandbox
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.i18n import LoaError

Cli = Callable[..., Result]


@pytest.fixture
def cli(db_url: str) -> Cli:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, "--lang", "en", *args])


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Peer]:
    with sandbox(tmp_path) as peer:
        yield peer


def flat(output: str) -> str:
    return " ".join(output.split())


def test_a_route_is_added_tested_listed_without_secrets_and_removed(cli: Cli, smsc: Peer) -> None:
    added = cli("routes", "add", "viettel-smpp", "--kind", "smpp", "--host", "127.0.0.1",
                "--port", str(smsc.port), "--system-id", "loa", "--password", "s3cret",
                "--tps", "200", "--window", "20", "--carriers", "Viettel,MobiFone")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert flat(added.output) == (
        "Added route 'viettel-smpp' (smpp, viettel, mobifone). "
        "Test it: loa routes test viettel-smpp"
    )
    tested = cli("routes", "test", "viettel-smpp")
    assert tested.exit_code == 0 and "Route 'viettel-smpp' connects" in flat(tested.output)
    listed = json.loads(cli("routes", "list", "--json").stdout)
    assert listed == [
        {
            "name": "viettel-smpp",
            "kind": "smpp",
            "channel": "sms",
            "carriers": ["viettel", "mobifone"],
            "tps": 200,
            "window": 20,
            "priority": 0,
            "failover": None,
            "enabled": True,
            "settings": {
                "host": "127.0.0.1",
                "port": smsc.port,
                "system_id": "loa",
                "password": "***",
            },
        }
    ]
    assert cli("routes", "remove", "viettel-smpp").exit_code == 0
    assert "No routes yet" in flat(cli("routes", "list").output)


def test_bad_routes_are_refused_with_the_fix(cli: Cli) -> None:
    wrong_kind = cli("routes", "add", "x", "--kind", "carrier-pigeon")
    assert isinstance(wrong_kind.exception, LoaError)
    assert wrong_kind.exception.render("en") == (
        "There is no route kind 'carrier-pigeon'; use one of: smpp, http-sms, smtp, fcm, webpush."
    )
    carrier = cli("routes", "add", "x", "--kind", "smpp", "--host", "h", "--port", "1",
                  "--system-id", "a", "--password", "b", "--carriers", "viettell")  # fmt: skip
    assert isinstance(carrier.exception, LoaError)
    assert carrier.exception.render("en") == (
        "Unknown carrier 'viettell'; use: gmobile, itel, mobifone, reddi, vietnamobile, "
        "viettel, vinaphone."
    )


def test_a_route_that_does_not_answer_says_so(cli: Cli, tmp_path: Path) -> None:
    # A port nobody listens on: bind to one and close it.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli("routes", "add", "dead", "--kind", "smpp", "--host", "127.0.0.1", "--port", str(port),
        "--system-id", "a", "--password", "b")  # fmt: skip
    result = cli("routes", "test", "dead")
    assert result.exit_code == 1
    assert "Route 'dead' does not connect" in flat(result.output)


def test_worker_until_idle_with_nothing_to_do_exits_at_once(cli: Cli) -> None:
    result = cli("worker", "--until-idle", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["submitted"] == 0
