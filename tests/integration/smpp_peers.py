"""SMPP servers for integration tests, each in its own process on a free port:

- the sandbox SMSC (`python -m loa.channels.smsc_sim`), with any of its options;
- a foreign one, tests/peers/smpp-peer.js, written with the npm `smpp` package.

Both journal every submit_sm part they accept as one JSON line (`Peer.journal_lines()`), with
`dest`, `text` (the part, decoded by the server), `ref`/`part`/`total` for long messages and a
`msg_key` naming the message a part belongs to.

Use the fixtures (`from tests.integration.smpp_peers import start_sandbox, start_npm_peer`) or
the context managers `sandbox(...)` / `npm_peer(...)`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "peers"
START_TIMEOUT_S = 30.0


@dataclass
class Peer:
    """A running SMPP server process."""

    name: str
    port: int
    journal: Path
    process: subprocess.Popen[bytes]
    log: Path
    host: str = "127.0.0.1"
    options: dict[str, Any] = field(default_factory=dict)

    def journal_lines(self) -> list[dict[str, Any]]:
        """Every part journalled so far."""
        if not self.journal.exists():
            return []
        text = self.journal.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def messages(self) -> dict[str, str]:
        """The whole text of each message by msg_key, its parts joined in order."""
        parts: dict[str, list[tuple[int, str]]] = {}
        for line in self.journal_lines():
            parts.setdefault(line["msg_key"], []).append((line["part"] or 1, line["text"]))
        return {key: "".join(text for _, text in sorted(p)) for key, p in parts.items()}

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _fail(name: str, process: subprocess.Popen[bytes], log: Path, why: str) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(10)
    detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{name} did not start: {why}\n{detail}")


def start_sandbox_process(directory: Path, *args: str, name: str = "sandbox") -> Peer:
    """`python -m loa.channels.smsc_sim --port 0 ... ARGS`; returns once it listens."""
    directory.mkdir(parents=True, exist_ok=True)
    journal = directory / f"{name}.jsonl"
    port_file = directory / f"{name}.port"
    log = directory / f"{name}.log"
    port_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "loa.channels.smsc_sim",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--journal",
        str(journal),
        "--quiet",
        *args,
    ]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_file.exists():
        if process.poll() is not None:
            _fail(name, process, log, f"exit code {process.returncode}")
        if time.monotonic() > deadline:
            _fail(name, process, log, "no port after 30 s")
        time.sleep(0.02)
    port = int(port_file.read_text())
    return Peer(name, port, journal, process, log, options={"args": list(args)})


def ensure_npm_peer() -> None:
    """Install tests/peers/node_modules (npm ci) unless it is already there."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed for the npm SMPP peer (Node.js 18+)")
    subprocess.run(["sh", str(ROOT / "scripts" / "install-peers.sh")], check=True, cwd=ROOT)


def start_npm_process(
    directory: Path,
    *,
    disconnect_after: int | None = None,
    receipt_delay_ms: int = 50,
    name: str = "npm-smpp",
) -> Peer:
    """tests/peers/smpp-peer.js on a free port; returns once it listens."""
    ensure_npm_peer()
    directory.mkdir(parents=True, exist_ok=True)
    journal = directory / f"{name}.jsonl"
    log = directory / f"{name}.log"
    command = [
        "node",
        str(PEERS / "smpp-peer.js"),
        "--port",
        "0",
        "--journal",
        str(journal),
        "--receipt-delay-ms",
        str(receipt_delay_ms),
    ]
    if disconnect_after:
        command += ["--disconnect-after", str(disconnect_after)]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log_file, cwd=PEERS, env=dict(os.environ)
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line.isdigit():
        _fail(name, process, log, f"printed {line!r} instead of its port")
    return Peer(name, int(line), journal, process, log)


@contextlib.contextmanager
def sandbox(directory: Path, *args: str) -> Iterator[Peer]:
    """A sandbox SMSC process for the length of a `with` block."""
    peer = start_sandbox_process(directory, *args)
    try:
        yield peer
    finally:
        peer.stop()


@contextlib.contextmanager
def npm_peer(directory: Path, **options: Any) -> Iterator[Peer]:
    """The npm `smpp` peer for the length of a `with` block."""
    peer = start_npm_process(directory, **options)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Callable[..., Peer]]:
    """A factory: `start_sandbox("--throttle-tps", "20")` starts one; all stop at teardown."""
    started: list[Peer] = []

    def start(*args: str) -> Peer:
        peer = start_sandbox_process(tmp_path / f"sandbox{len(started)}", *args)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
def start_npm_peer(tmp_path: Path) -> Iterator[Callable[..., Peer]]:
    """A factory: `start_npm_peer(disconnect_after=30)`; all stop at teardown."""
    started: list[Peer] = []

    def start(**options: Any) -> Peer:
        peer = start_npm_process(tmp_path / f"npm{len(started)}", **options)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()
