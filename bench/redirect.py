"""Redirect speed: `/r/<code>` served by Loa's tracker against a bare ASGI app that answers a
fixed 302, both under uvicorn (httptools, uvloop) in their own process, loaded by a generator in
a third process over loopback, in the same run.

The load generator keeps C connections open (HTTP/1.1 keep-alive) and sends requests one after
another on each, recording every latency; codes are drawn from 20,000 real short links, so the
tracker's cache starts cold. After the tracker is stopped (SIGTERM: the click buffer is flushed),
the clicks in the store must equal the redirects answered. Target (issue 8): >= 2,000
redirects/s with p99 < 50 ms.

    python bench/redirect.py [--seconds 5] [--conns 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CODES = 20_000


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The peer: a fixed 302, nothing looked up, nothing recorded."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].replace("lifespan.", "")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", b"https://shop.vn/?utm_source=loa"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def serve(kind: str, db: str, port: int) -> None:
    import uvicorn

    if kind == "bare":
        app: Any = bare_app
    else:
        from loa.store.db import open_store
        from loa.tracker import create_tracker_app

        app = create_tracker_app(open_store(db))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


async def _client(
    port: int, codes: list[str], until: float, lat: list[float], status: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random()
    while time.perf_counter() < until:
        code = rnd.choice(codes)
        started = time.perf_counter()
        writer.write(
            f"GET /r/{code} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (iPhone; "
            f"CPU iPhone OS 17_1 like Mac OS X) Safari/604.1\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        lat.append(time.perf_counter() - started)
        code_ = int(head.split(b" ", 2)[1])
        status[code_] = status.get(code_, 0) + 1
    writer.close()


def load(port: int, codes_file: str, seconds: float, conns: int) -> None:
    """The load generator (its own process): prints one JSON line."""
    import uvloop

    codes = Path(codes_file).read_text().split()
    lat: list[float] = []
    status: dict[int, int] = {}

    async def main() -> float:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_client(port, codes, until, lat, status) for _ in range(conns)))
        return time.perf_counter() - started

    took = uvloop.run(main())
    lat.sort()
    print(
        json.dumps(
            {
                "requests": len(lat),
                "rate": len(lat) / took,
                "p50_ms": 1000 * lat[len(lat) // 2],
                "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
                "status": status,
            }
        )
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def run(kind: str, db: str, codes_file: str, seconds: float, conns: int) -> dict[str, Any]:
    port = _free_port()
    me = str(Path(__file__).resolve())
    server = subprocess.Popen(
        [sys.executable, me, "--serve", kind, "--db", db, "--port", str(port)], cwd=ROOT
    )
    try:
        _wait(port)
        out = subprocess.run(
            [
                sys.executable,
                me,
                "--load",
                "--port",
                str(port),
                "--codes",
                codes_file,
                "--seconds",
                str(seconds),
                "--conns",
                str(conns),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.send_signal(signal.SIGTERM)  # graceful: the tracker flushes its clicks
        server.wait(timeout=30)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--db", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--codes", default="")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--conns", type=int, default=32)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db, args.port)
        return
    if args.load:
        load(args.port, args.codes, args.seconds, args.conns)
        return

    tmp = Path(tempfile.mkdtemp(prefix="loa-bench-redirect-"))
    try:
        _compare(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the scratch store goes with the run


def _compare(args: argparse.Namespace, tmp: Path) -> None:
    from sqlalchemy import func, insert, select

    from loa.domain.links import new_code
    from loa.store.db import open_store
    from loa.store.tables import clicks, short_links

    db = f"sqlite:///{tmp / 'loa.db'}"
    store = open_store(db)
    codes = sorted({new_code() for _ in range(CODES)})
    with store.engine.begin() as conn:
        conn.execute(
            insert(short_links),
            [
                {
                    "code": c,
                    "workspace_id": store.workspace_id,
                    "destination": f"https://shop.vn/tet?utm_source=loa&utm_medium=sms&k={c}",
                    "campaign_id": 1,
                    "contact_id": i,
                    "outbox_id": i,
                    "variant": "A",
                }
                for i, c in enumerate(codes)
            ],
        )
    codes_file = tmp / "codes.txt"
    codes_file.write_text("\n".join(codes))
    print(
        f"redirects over loopback, {args.conns} keep-alive connections, {args.seconds:g} s each, "
        f"{len(codes):,} codes; {os.cpu_count()} CPUs"
    )
    bare = run("bare", db, str(codes_file), args.seconds, args.conns)
    loa = run("loa", db, str(codes_file), args.seconds, args.conns)
    with store.engine.connect() as conn:
        recorded = conn.execute(select(func.count()).select_from(clicks)).scalar_one()
    answered = loa["status"].get("302", 0)
    for name, r in (("bare ASGI 302 (peer)", bare), ("Loa tracker", loa)):
        print(
            f"  {name:22} {r['rate']:9,.0f} redirects/s   p50 {r['p50_ms']:6.2f} ms   "
            f"p99 {r['p99_ms']:6.2f} ms   answers {r['status']}"
        )
    print(f"  ratio Loa / bare: {loa['rate'] / bare['rate']:.2f}")
    print(
        f"  clicks recorded after shutdown: {recorded:,} of {answered:,} redirects "
        f"({'all' if recorded == answered else 'MISSING ' + str(answered - recorded)})"
    )
    ok = loa["rate"] >= 2000 and loa["p99_ms"] < 50 and recorded == answered
    print(f"  target >= 2,000/s, p99 < 50 ms, no click lost: {'met' if ok else 'NOT met'}")
    store.engine.dispose()


if __name__ == "__main__":
    main()
