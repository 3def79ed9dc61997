"""Import speed: a 1M-row messy customer CSV into SQLite, Loa vs a hand-written row-by-row peer.

Target (issue 3): >= 100,000 rows/s with peak memory <= 1 GB. listmonk reports ~10k/s.
The peer is what a careful developer writes first: csv.DictReader, phonenumbers per row,
a dict for de-duplication, and executemany into the same contacts table. It runs on a slice of
the same file and its rate is extrapolated (it is linear); each side runs in its own process
so its peak memory is its own.

    .venv/bin/python bench/import.py [--rows 1000000] [--peer-rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from peak import peak_mb


def child_loa(path: Path, db: Path) -> dict[str, float]:
    from loa.services.contacts.importer import import_contacts
    from loa.store.db import open_store

    store = open_store(f"sqlite:///{db}")
    start = time.perf_counter()
    report = import_contacts(store, path)
    seconds = time.perf_counter() - start
    return {
        "rows": report.rows,
        "imported": report.imported,
        "invalid": report.invalid,
        "seconds": seconds,
    }


def child_peer(path: Path, db: Path, limit: int) -> dict[str, float]:
    import phonenumbers
    from sqlalchemy import insert

    from loa.store.db import open_store
    from loa.store.tables import contacts

    store = open_store(f"sqlite:///{db}")
    start = time.perf_counter()
    seen: dict[str, dict[str, object]] = {}
    rows = invalid = 0
    now = datetime.now(UTC)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            if rows == limit:
                break
            rows += 1
            try:
                number = phonenumbers.parse(record["Số điện thoại"] or "", "VN")
            except phonenumbers.NumberParseException:
                invalid += 1
                continue
            if not phonenumbers.is_valid_number(number):
                invalid += 1
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            birthday = None
            if record.get("Ngày sinh"):
                try:
                    birthday = datetime.strptime(record["Ngày sinh"], "%d/%m/%Y").date()
                except ValueError:
                    invalid += 1
                    continue
            name = " ".join((record.get("Họ tên") or "").split()) or None
            seen[e164] = {
                "workspace_id": store.workspace_id,
                "phone": e164,
                "name": name,
                "given_name": name.split()[-1] if name else None,
                "email": (record.get("Email") or "").lower() or None,
                "birthday": birthday,
                "province": record.get("Tỉnh/Thành") or None,
                "created_at": now,
                "updated_at": now,
            }
    with store.engine.begin() as conn:
        conn.execute(insert(contacts), list(seen.values()))
    seconds = time.perf_counter() - start
    return {"rows": rows, "imported": len(seen), "invalid": invalid, "seconds": seconds}


def run_child(kind: str, path: Path, limit: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                str(path),
                str(Path(tmp) / "b.db"),
                str(limit),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, path, db, limit = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
        result = child_loa(path, db) if kind == "loa" else child_peer(path, db, limit)
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer-rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from loa.services.sample import SampleSpec, write_sample

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        print(f"generating {args.rows:,} messy contacts …", flush=True)
        spec = SampleSpec(
            contacts=args.rows, orders=0, now=datetime.now(UTC).date(), seed=args.seed, messy=True
        )
        write_sample(spec, out)
        path = out / "contacts.csv"
        size_mb = path.stat().st_size / 1e6
        loa = run_child("loa", path, args.rows)
        peer = run_child("peer", path, args.peer_rows)

    loa_rate = loa["rows"] / loa["seconds"]
    peer_rate = peer["rows"] / peer["seconds"]
    print(f"file: {args.rows:,} rows, {size_mb:.0f} MB, messy")
    print(
        f"loa:  {loa['rows']:,.0f} rows in {loa['seconds']:.2f} s = {loa_rate:,.0f} rows/s, "
        f"peak {loa['peak_mb']:.0f} MB ({loa['imported']:,.0f} contacts, "
        f"{loa['invalid']:,.0f} rows reported invalid)"
    )
    print(
        f"peer: {peer['rows']:,.0f} rows in {peer['seconds']:.2f} s = {peer_rate:,.0f} rows/s, "
        f"peak {peer['peak_mb']:.0f} MB (row-by-row, first {args.peer_rows:,} rows, "
        "extrapolated)"
    )
    verdict = "OK" if loa_rate >= 100_000 and loa["peak_mb"] <= 1024 else "BELOW TARGET"
    print(
        f"ratio: {loa_rate / peer_rate:.1f}x  (target >= 100,000 rows/s, peak <= 1,024 MB: "
        f"{verdict})"
    )


if __name__ == "__main__":
    main()
