"""`loa compliance explain PHONE`: the decision for one number and every rule behind it.

Defined as a plain function so the `compliance` command group (another module) can wire it:
`app.command("explain")(compliance_decide.explain)`.
"""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.table import Table

from loa.cli.common import State, console
from loa.domain.compliance import windows
from loa.i18n import LoaError, Msg
from loa.services.compliance.brandnames import workspace_pack
from loa.services.compliance.decisions import DECISION_WORDS
from loa.services.compliance.decisions import explain as explain_one

BAD_AT = Msg(
    "cli.compliance.bad_at",
    "--at '{value}' không phải thời điểm ISO 8601, ví dụ 2025-06-15T21:30 (giờ của bộ quy định) "
    "hoặc 2025-06-15T21:30+07:00.",
    "--at '{value}' is not an ISO 8601 instant, e.g. 2025-06-15T21:30 (the pack's clock) or "
    "2025-06-15T21:30+07:00.",
)
HEADLINE = Msg(
    "cli.compliance.headline",
    "{phone} · {cls} · {sender} · {at}: [bold]{decision}[/]",
    "{phone} · {cls} · {sender} · {at}: [bold]{decision}[/]",
)
SCHEDULED = Msg("cli.compliance.scheduled", "Gửi lúc: {at}", "Sends at: {at}")
NO_REASON = Msg(
    "cli.compliance.no_reason",
    "Không có quy tắc nào chặn hoặc hoãn tin này.",
    "No rule stops or delays this message.",
)
SENT_24H = Msg(
    "cli.compliance.sent_24h",
    "Tin quảng cáo trong 24 giờ: {count} (tối đa {limit}).",
    "Advertising messages in 24 hours: {count} (limit {limit}).",
)
H_RULE = Msg("cli.compliance.h_rule", "Quy tắc", "Rule")
H_WHY = Msg("cli.compliance.h_why", "Lý do", "Why")
COLOURS = {"send": "green", "defer": "yellow", "suppress": "red"}


def _instant(value: str | None, zone_name: str) -> datetime | None:
    """`--at` as an aware instant; a time without an offset is read on the pack's clock."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise LoaError(BAD_AT, value=value) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=windows.zone(zone_name))


def explain(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="The number, e.g. 0912345678 or +84912345678."),
    cls: str = typer.Option("qc", "--class", help="qc (advertising), cskh (care) or public."),
    sender: str = typer.Option(..., "--sender", help="The brandname the message would use."),
    at: str | None = typer.Option(
        None, "--at", help="When it would leave, ISO 8601 (default: now; no offset = pack's clock)."
    ),
    no_defer: bool = typer.Option(
        False, "--no-defer", help="The campaign drops messages outside the hours."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Explain whether a message to one number would be sent, deferred or suppressed, and why."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        pack = workspace_pack(conn, store.workspace_id)
    clock = "UTC" if pack.timezone == windows.RECIPIENT else pack.timezone
    found = explain_one(store, phone, cls, sender, _instant(at, clock), allow_defer=not no_defer)
    if as_json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False))
        return
    zone = windows.zone(windows.split_key(found.zone)[0])
    local = found.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    word = DECISION_WORDS[found.decision].render()
    console.print(
        HEADLINE.render(
            phone=found.phone,
            cls=found.cls,
            sender=found.sender,
            at=local,
            decision=f"[{COLOURS[found.decision]}]{word}[/]",
        )
    )
    if found.scheduled_at is not None and found.decision == "defer":
        console.print(SCHEDULED.render(at=found.scheduled_at.astimezone(zone).isoformat()))
    if found.limit and cls == "qc":
        console.print(SENT_24H.render(count=found.sent_24h, limit=found.limit))
    if not found.reasons:
        console.print(NO_REASON.render())
        return
    table = Table()
    table.add_column(H_RULE.render(), style="bold")
    table.add_column(H_WHY.render())
    for reason in found.reasons:
        table.add_row(reason.code, reason.render())
    console.print(table)
