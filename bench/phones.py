"""Normalising a column of Vietnamese phone numbers: Loa's `normalize_column` against calling
`phonenumbers.parse` + `is_valid_number` + `format_number` on each number.

    .venv/bin/python bench/phones.py [--n 1000000] [--peer-sample 100000] [--seed 2018]

The numbers are what an import really holds: mostly 10-digit mobiles written every way people
write them, some Excel damage, 11-digit 01xx numbers, landlines, a few foreign and broken
entries. Same seed, same numbers.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import phonenumbers
import polars as pl

from loa.domain.phones import CARRIERS, LEGACY_PREFIXES, normalize_column

MOBILE_PREFIXES = sorted(p for p in CARRIERS if p not in {"30", "31", "51", "52", "55", "89"})
LANDLINE_AREAS = ["24", "28", "236", "225", "251", "274", "292", "258", "203", "206"]


def _spaced(d: str, sep: str) -> str:
    return sep.join([d[:3], d[3:6], d[6:]]) if len(d) == 10 else sep.join([d[:4], d[4:7], d[7:]])


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"


# (weight, writer): each writer turns a random generator into one written number.
FORMS: list[tuple[float, Callable[[random.Random], str]]] = [
    (38, lambda r: "0" + _mobile(r)),
    (8, lambda r: _spaced("0" + _mobile(r), " ")),
    (4, lambda r: _spaced("0" + _mobile(r), ".")),
    (4, lambda r: _spaced("0" + _mobile(r), "-")),
    (7, lambda r: "+84" + _mobile(r)),
    (4, lambda r: (lambda m: f"+84 {m[:2]} {m[2:5]} {m[5:]}")(_mobile(r))),
    (2, lambda r: "(+84) " + _mobile(r)),
    (8, lambda r: "84" + _mobile(r)),
    (2, lambda r: "0084" + _mobile(r)),
    (8, lambda r: _mobile(r)),  # Excel dropped the leading 0
    (3, lambda r: _mobile(r) + ".0"),  # ... and wrote it as a float
    (4, lambda r: "0" + r.choice(list(LEGACY_PREFIXES)) + f"{r.randrange(10**7):07d}"),
    (1, lambda r: "+84" + r.choice(list(LEGACY_PREFIXES)) + f"{r.randrange(10**7):07d}"),
    (
        2,
        lambda r: (lambda a: "0" + a + f"{r.randrange(10 ** (10 - len(a))):0{10 - len(a)}d}")(
            r.choice(LANDLINE_AREAS)
        ),
    ),
    (1, lambda r: "0" + _mobile(r)[: r.choice([7, 8])]),  # digits missing
    (1, lambda r: "0" + _mobile(r) + str(r.randrange(10))),  # a digit too many
    (1, lambda r: "0" + r.choice(["50", "60", "74", "45"]) + f"{r.randrange(10**7):07d}"),
    (0.5, lambda r: ""),
    (0.3, lambda r: "8.4" + _mobile(r)[1:] + "E+10"),  # exact scientific notation
    (0.2, lambda r: f"8.49{r.randrange(100):02d}E+10"),  # Excel rounded digits away
    (0.1, lambda r: f"+44 20 7{r.randrange(10**7):07d}"),  # foreign: the slow path
    (0.05, lambda r: f"+1 415 555 {r.randrange(10**4):04d}"),
    (0.05, lambda r: f"+86 138 {r.randrange(10**8):08d}"),
    (0.05, lambda r: "+84" + _mobile(r) + f" ext {r.randrange(100)}"),
    (0.1, lambda r: r.choice(["không có", "N/A", "chưa có số", "-"])),
]


def make_numbers(n: int, seed: int) -> list[str]:
    """`n` numbers in mixed written forms; the same for the same seed."""
    rng = random.Random(seed)
    weights = [w for w, _ in FORMS]
    writers = rng.choices([f for _, f in FORMS], weights=weights, k=n)
    return [write(rng) for write in writers]


def peer(numbers: list[str]) -> int:
    """What a caller does without Loa: parse, validate and format each number."""
    valid = 0
    for text in numbers:
        try:
            number = phonenumbers.parse(text, "VN")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            valid += 1
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return valid


def main() -> None:
    """Build the numbers, time both, print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="numbers in the column")
    parser.add_argument(
        "--peer-sample", type=int, default=100_000, help="numbers the peer is timed on"
    )
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args()

    numbers = make_numbers(args.n, args.seed)
    column = pl.Series("phone", numbers)
    normalize_column(column.head(1000))  # warm up: compile the regexes once

    start = time.perf_counter()
    result = normalize_column(column)
    loa_s = time.perf_counter() - start

    sample = numbers[: min(args.peer_sample, args.n)]
    start = time.perf_counter()
    peer(sample)
    peer_s = time.perf_counter() - start

    loa_rate = args.n / loa_s
    peer_rate = len(sample) / peer_s
    valid_share = result.get_column("valid").sum() / args.n
    legacy = result.get_column("legacy_converted").sum()
    print(
        f"{args.n:,} numbers (seed {args.seed}): {valid_share:.1%} valid, "
        f"{legacy:,} converted from 11 digits; loa {loa_s:.2f} s for all"
    )
    extrapolated = len(sample) < args.n
    note = f" (timed on {len(sample):,}, extrapolated to {args.n:,})" if extrapolated else ""
    print(
        f"peer: phonenumbers parse+is_valid_number+format_number per number{note}: "
        f"{peer_s:.2f} s for {len(sample):,}, about {args.n / peer_rate:.1f} s for {args.n:,}"
    )
    print(
        f"loa: {loa_rate:,.0f}/s  phonenumbers: {peer_rate:,.0f}/s  "
        f"ratio: {loa_rate / peer_rate:.0f}x (target >= 20x)"
    )


if __name__ == "__main__":
    main()
