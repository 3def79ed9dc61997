"""Benchmark: rendering and analysing personalised SMS for an audience, Loa against a peer.

Loa parses the template once and renders a chunk of recipients column by column
(`Template.render_counted`: the messages plus each one's encoding and parts). The peer is the
usual Python approach: a Jinja2 `SandboxedEnvironment` template rendered once per recipient (with
Loa's filters registered, so both produce the same text), then the PyPI `gsm0338` codec with a
UTF-16 fallback and parts by arithmetic, as in bench/text.py. The peer runs on a sample of
`--peer-n` recipients spread over every chunk and its rate is extrapolated; the texts it renders
are checked against Loa's.

Each chunk of 100,000 recipients is one campaign. Campaigns follow `MIX`: nine in ten use the two
plain templates, one in ten the template with an emoji (about the 6% share of messages with emoji
in bench/text.py): a multi-part message with an emoji needs the grapheme-by-grapheme layout, the
slow path of `count_segments`, so it is priced in at a realistic share. The rate of each template
is printed too.

    .venv/bin/python bench/render.py --n 1000000
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from loa.domain.compose import OptOut, frame_template
from loa.domain.links import LinkOptions, link_template
from loa.domain.templates import FILTERS, Template, parse

TARGET_RATE = 200_000
CHUNK = 100_000
MIX = [0, 1, 0, 1, 0, 1, 0, 1, 0, 2]  # the template of each campaign (chunk), in turn

TEMPLATES = [
    '{{ gender | greeting }} {{ given_name | default("bạn") }} ơi, Phúc Long tặng voucher '
    "{{ amount | vnd }} cho hạng {{ tier }}: mã {{ voucher }}, hạn {{ expires | ddmm }}. "
    "Xem https://phuclong.vn/uu-dai",
    "Don hang {{ order.id }} cua {{ name | unaccent }} da duoc xac nhan, tong "
    "{{ order.total | vnd }}. Giao truoc {{ expires | ddmm }}.",
    "Chúc mừng sinh nhật {{ gender | greeting | lower }} {{ name | given }}! Tặng "
    "{{ amount | vnd }}, mã {{ voucher }} 🎁",
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hữu", "Đức", "Thu", ""]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Linh", "Minh", "Nam", "Thảo", "Tuấn"]
TIERS = ["Bạc", "Vàng", "Kim cương"]


def audience(n: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    """`n` contacts with event variables, in chunks, the same for the same seed."""
    rng = random.Random(seed)
    done = 0
    while done < n:
        chunk: list[dict[str, Any]] = []
        for i in range(done, done + min(CHUNK, n - done)):
            given = rng.choice(GIVEN)
            name = " ".join(w for w in (rng.choice(FAMILY), rng.choice(MIDDLE), given) if w)
            chunk.append(
                {
                    "name": name,
                    "given_name": given if rng.random() < 0.9 else None,
                    "gender": rng.choice(("male", "female", "other", None)),
                    "tier": rng.choice(TIERS),
                    "amount": rng.choice((20_000, 50_000, 100_000, 250_000, 1_250_000)),
                    "voucher": "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=8)),
                    "expires": date(2026, rng.randint(1, 12), rng.randint(1, 28)),
                    "order": {"id": 10_000_000 + i, "total": rng.randint(50, 5_000) * 1_000},
                }
            )
        done += len(chunk)
        yield chunk


def prepared(source: str) -> Template:
    """The template as Loa sends it: framed for QC, its link shortened (preview placeholder)."""
    optout = OptOut("TC", "9029", "19001234")
    framed = frame_template(parse(source), "qc", optout, "vi", "PHUCLONG")
    return link_template(framed, LinkOptions()).preview


def loa(template: Template, rows: list[dict[str, Any]]) -> list[tuple[str | None, Any]]:
    """Loa: render and count a chunk column by column."""
    result, counts = template.render_counted(rows)
    return list(zip(result.texts, counts, strict=True))


def peer_for(template: Template) -> Callable[[list[dict[str, Any]]], list[tuple[str, int, str]]]:
    """The peer: the same framed text as a Jinja2 sandboxed template, one render per row."""
    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    source = "".join(
        part.replace("{", "{{ '{' }}")
        + (_jinja_slot(template, i) if i < len(template.slots) else "")
        for i, part in enumerate(template.literals)
    )
    compiled = env.from_string(source)

    def run(rows: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
        out: list[tuple[str, int, str]] = []
        for row in rows:
            text = compiled.render(**row)
            try:
                septets = len(text.encode("gsm03.38"))
                out.append((text, 1 if septets <= 160 else -(-septets // 153), "GSM-7"))
            except UnicodeEncodeError:
                units = len(text.encode("utf-16-le")) // 2
                out.append((text, 1 if units <= 70 else -(-units // 67), "UCS-2"))
        return out

    return run


def _jinja_slot(template: Template, i: int) -> str:
    slot = template.slots[i]
    filters = "".join(
        f" | {f.name}" + (f"({', '.join(map(repr, f.args))})" if f.args else "")
        for f in slot.filters
    )
    return "{{ " + slot.variable + filters + " }}"


def _timed(work: Callable[[], object]) -> float:
    """CPU seconds `work` takes (wall time would also count other processes on the machine)."""
    gc.collect()
    start = time.process_time()
    work()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="recipients per template mix")
    parser.add_argument("--peer-n", type=int, default=60_000, help="recipients the peer renders")
    parser.add_argument("--seed", type=int, default=20_25)
    args = parser.parse_args(argv)
    peer_share = min(1.0, args.peer_n / args.n)
    templates = [prepared(source) for source in TEMPLATES]
    peers = [peer_for(t) for t in templates]

    warm_up = next(audience(1_000, args.seed + 1))
    for template, peer in zip(templates, peers, strict=True):
        loa(template, warm_up), peer(warm_up)

    loa_s = peer_s = 0.0
    done = peer_done = same = 0
    per_template_s = [0.0] * len(templates)
    per_template_n = [0] * len(templates)
    for k, chunk in enumerate(audience(args.n, args.seed)):
        which = MIX[k % len(MIX)]
        template, peer = templates[which], peers[which]
        ours: list[tuple[str | None, Any]] = []
        took = _timed(lambda: ours.extend(loa(template, chunk)))  # noqa: B023
        loa_s += took
        per_template_s[which] += took
        per_template_n[which] += len(chunk)
        done += len(chunk)
        sample = chunk[: round(len(chunk) * peer_share)]
        theirs: list[tuple[str, int, str]] = []
        peer_s += _timed(lambda: theirs.extend(peer(sample)))  # noqa: B023
        peer_done += len(sample)
        for (text, count), (peer_text, parts, encoding) in zip(ours, theirs, strict=False):
            same += text == peer_text and (count.encoding, count.segments) == (encoding, parts)

    loa_rate = done / loa_s
    peer_rate = peer_done / peer_s
    print(f"Rendering + analysis of {done:,} personalised QC SMS, {len(TEMPLATES)} templates "
          f"(seed {args.seed})")  # fmt: skip
    print("  rates in messages per CPU second of this process:")
    print(f"  Loa Template.render_counted (column-wise): {loa_rate:>12,.0f} messages/s")
    for which, (seconds, count) in enumerate(zip(per_template_s, per_template_n, strict=True)):
        if count:
            print(f"    template {which + 1}: {count / seconds:>12,.0f} messages/s on {count:,}")
    print(
        f"  peer Jinja2 sandbox + gsm0338/UTF-16:      {peer_rate:>12,.0f} messages/s "
        f"(timed on {peer_done:,} recipients, {peer_share:.0%} of each chunk)"
    )
    verdict = "met" if loa_rate >= TARGET_RATE else "NOT met"
    print(
        f"  ratio: {loa_rate / peer_rate:.1f}x the peer; target >= {TARGET_RATE:,} messages/s: "
        f"{verdict}"
    )
    print(f"  answers: same text, encoding and parts as the peer for {same:,} of {peer_done:,}")
    return 0 if loa_rate >= TARGET_RATE else 1


if __name__ == "__main__":
    sys.exit(main())
