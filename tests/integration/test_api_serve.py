"""`loa serve` as its own process, over real HTTP on loopback: a user added with `loa users
add`, signed in with a cookie, imports a file, adds a route to the sandbox SMSC, plans and
starts a campaign, and the server's own dispatch worker sends it; `loa keys` works too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.smpp_peers import Peer, sandbox
from typer.testing import CliRunner

from loa.cli import app
from loa.i18n import LoaError

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mat-khau-rat-dai"
TEXT = "Don hang cua quy khach da duoc giao thanh cong. Cam on quy khach!"


def loa(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from loa.cli import main; main()", "--db", db_url, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "LOA_LANG": "en"},
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Peer]:
    with sandbox(tmp_path, "--receipt-delay", "0.01", "0.1") as server:
        yield server


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from loa.cli import main; main()",
            "--db",
            db_url,
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "LOA_LANG": "en"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "loa serve did not answer in 60 s"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def cli(db_url: str, *args: str, stdin: str | None = None) -> Any:
    """The CLI in this process (each subprocess would cost seconds of imports)."""
    return CliRunner().invoke(app, ["--db", db_url, "--lang", "en", *args], input=stdin)


def test_the_cli_adds_users_and_keys_and_prints_a_key_once(db_url: str) -> None:
    added = cli(
        db_url,
        "users",
        "add",
        "Lan@Shop.vn",
        "--role",
        "owner",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert "Added lan@shop.vn (owner) to the workspace 'default'." in added.output
    weak = cli(db_url, "users", "add", "b@shop.vn", "--password-stdin", stdin="ngan\n")
    assert isinstance(weak.exception, LoaError)
    assert weak.exception.render("en") == "The password needs at least 10 characters."
    listed = cli(db_url, "users", "list")
    assert "lan@shop.vn" in listed.output and "owner" in listed.output
    assert "Last sign-in" in listed.output
    listed_vi = CliRunner().invoke(app, ["--db", db_url, "users", "list"])
    assert "Đăng nhập gần nhất" in listed_vi.output

    made = cli(db_url, "keys", "create", "--scopes", "events:write,contacts:read", "--name", "web")
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert key.startswith("loa_")
    assert "API key #1 (contacts:read, events:write). Store it now" in made.output
    keys = cli(db_url, "keys", "list", "--json")
    assert key[:12] in keys.output and key not in keys.output
    assert cli(db_url, "keys", "revoke", "1").output.strip() == "Revoked key #1."
    table = cli(db_url, "keys", "list")
    assert "Revoked" in table.output and "web" in table.output


def test_loa_serve_sends_a_campaign_started_over_http(db_url: str, served: str, smsc: Peer) -> None:
    assert (
        loa(
            db_url, "users", "add", "lan@shop.vn", "--password-stdin", stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    with httpx.Client(base_url=served, timeout=60) as web:
        signed = web.post(
            "/api/v1/auth/sign-in", json={"email": "lan@shop.vn", "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        h = {"X-CSRF-Token": signed.json()["csrf_token"]}
        csv = "Họ tên,Số điện thoại\n" + "".join(f"Khách {i},09123456{i:02d}\n" for i in range(5))
        imported = web.post(
            "/api/v1/contacts/import", files={"file": ("k.csv", csv.encode())}, headers=h
        )
        assert imported.json()["imported"] == 5, imported.text
        steps = [
            (
                "/api/v1/brandnames",
                {"name": "SHOPABC", "domains": ["shop.vn"], "registered_on": "2025-01-01"},
            ),
            (
                "/api/v1/templates",
                {"name": "giao-hang", "class": "cskh", "text": TEXT, "approved": True},
            ),
            (
                "/api/v1/routes",
                {
                    "name": "sandbox",
                    "kind": "smpp",
                    "settings": {
                        "host": "127.0.0.1",
                        "port": smsc.port,
                        "system_id": "loa",
                        "password": "loa",
                    },
                },
            ),
            (
                "/api/v1/campaigns",
                {
                    "name": "Giao hang",
                    "class": "cskh",
                    "sender": "SHOPABC",
                    "include": ["all"],
                    "texts": [TEXT],
                    "template": "giao-hang",
                },
            ),
        ]
        for path, body in steps:
            answer = web.post(path, json=body, headers=h)
            assert answer.status_code == 201, (path, answer.text)
        cid = answer.json()["id"]
        plan = web.post(f"/api/v1/campaigns/{cid}/plan", headers=h)
        assert plan.status_code == 200, plan.text
        assert plan.json()["by_decision"] == {"send": 5}
        started = web.post(f"/api/v1/campaigns/{cid}/start", headers={**h, "Idempotency-Key": "s1"})
        assert started.json()["state"] == "scheduled", started.text

        deadline = time.monotonic() + 90
        while True:
            report = web.get(f"/api/v1/campaigns/{cid}").json()
            if report["state"] == "completed":
                break
            assert time.monotonic() < deadline, report
            time.sleep(0.5)
        again = web.post(f"/api/v1/campaigns/{cid}/start", headers={**h, "Idempotency-Key": "s1"})
        assert again.json() == started.json()
        metrics = web.get("/metrics").text
    dests = sorted({line["dest"] for line in smsc.journal_lines()})
    assert len(dests) == 5
    assert len(smsc.journal_lines()) == 5  # each once, never twice
    assert 'loa_outbox_messages{status="delivered"} 5.0' in metrics
