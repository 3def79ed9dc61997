"""`loa compose preview`: a personalised message across its audience, before it is sent."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from loa.cli.common import State, console
from loa.cli.events import number
from loa.domain.compose import parse_class
from loa.domain.links import LinkOptions, slug
from loa.i18n import LoaError, Msg
from loa.services.compose import ComposePreview, Sample, Variant, preview_compose

app = typer.Typer(
    no_args_is_help=True,
    help="Soạn tin cá nhân hoá: mã hoá, số tin, chi phí theo nhà mạng. / Compose personalised "
    "messages: encoding, parts, cost per carrier.",
)

SEGMENT_OR_ALL = Msg(
    "cli.compose.segment_or_all",
    "Chọn người nhận: --segment TÊN hoặc --all (mọi khách hàng), không dùng cả hai.",
    "Choose the recipients: --segment NAME or --all (every contact), not both.",
)
BAD_VAR = Msg(
    "cli.compose.bad_var",
    "--var '{value}' không đúng dạng: viết TÊN=GIÁ_TRỊ, ví dụ --var voucher=TET2026.",
    "--var '{value}' is not in the right form: write NAME=VALUE, e.g. --var voucher=TET2026.",
)
HEADLINE = Msg(
    "cli.compose.headline",
    "{audience} người nhận, {rendered} tin soạn được, {failed} lỗi. Loại tin: {cls}.",
    "{audience} recipients, {rendered} messages rendered, {failed} failed. Class: {cls}.",
)
ENCODINGS = Msg(
    "cli.compose.encodings",
    "{label}: GSM-7 {gsm} tin nhắn, UCS-2 {ucs2} tin nhắn; số tin: {histogram}.",
    "{label}: GSM-7 {gsm} messages, UCS-2 {ucs2} messages; parts: {histogram}.",
)
WITH_ACCENTS = Msg("cli.compose.with_accents", "Có dấu", "With accents")
WITHOUT_ACCENTS = Msg("cli.compose.without_accents", "Không dấu", "Without accents")
SHORTEST = Msg("cli.compose.shortest", "Ngắn nhất", "Shortest")
TYPICAL = Msg("cli.compose.typical", "Điển hình (trung vị)", "Typical (median)")
LONGEST = Msg("cli.compose.longest", "Dài nhất", "Longest")
H_WHICH = Msg("cli.compose.h_which", "Bản", "Copy")
H_CONTACT = Msg("cli.compose.h_contact", "Khách hàng", "Contact")
H_TEXT = Msg("cli.compose.h_text", "Nội dung", "Text")
H_ENCODING = Msg("cli.compose.h_encoding", "Mã hoá", "Encoding")
H_PARTS = Msg("cli.compose.h_parts", "Số tin", "Parts")
H_CARRIER = Msg("cli.compose.h_carrier", "Nhà mạng", "Carrier")
H_RECIPIENTS = Msg("cli.compose.h_recipients", "Người nhận", "Recipients")
H_PRICE = Msg("cli.compose.h_price", "Giá/tin (đ)", "Price/part (VND)")
H_COST = Msg("cli.compose.h_cost", "Chi phí (đ)", "Cost (VND)")
H_COST_BARE = Msg("cli.compose.h_cost_bare", "Không dấu (đ)", "No accents (VND)")
H_REFUSED = Msg("cli.compose.h_refused", "Bị từ chối", "Refused")
TOTAL = Msg("cli.compose.total", "Tổng", "Total")
UNKNOWN = Msg("cli.compose.unknown", "Không rõ (tính giá cao nhất)", "Unknown (dearest price)")
ERRORS = Msg(
    "cli.compose.errors",
    "{failed} người nhận không soạn được tin; {shown} lỗi đầu tiên:",
    "{failed} recipients could not be rendered; the first {shown}:",
)
SAVING = Msg(
    "cli.compose.saving",
    "Không dấu: {bare}đ thay vì {accented}đ (tiết kiệm {saved}đ).",
    "Without accents: {bare} VND instead of {accented} VND (saves {saved} VND).",
)


def _variables(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, given = value.partition("=")
        if not sep or not name.strip():
            raise LoaError(BAD_VAR, value=value)
        out[name.strip()] = given
    return out


@app.command("preview")
def preview_command(
    ctx: typer.Context,
    text: str = typer.Option(..., "--text", help='The template, e.g. "Chào {{ given_name }}".'),
    segment: str | None = typer.Option(None, "--segment", help="A segment name."),
    everyone: bool = typer.Option(False, "--all", help="Every contact in the workspace."),
    cls: str = typer.Option("qc", "--class", help="qc, cskh or public."),
    sender: str | None = typer.Option(None, "--sender", help="The sender brandname."),
    short_domain: str = typer.Option("loa.vn", "--short-domain", help="Short-link domain."),
    campaign: str = typer.Option("loa", "--campaign", help="Campaign name for utm_campaign."),
    allow_http: bool = typer.Option(False, "--allow-http", help="Allow http:// links."),
    unaccent: bool = typer.Option(False, "--unaccent", help="Send without accents."),
    var: list[str] = typer.Option([], "--var", help="NAME=VALUE for every recipient."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Preview a message over its audience: encoding, parts, cost per carrier, errors."""
    if (segment is None) == (not everyone) or (segment is not None and everyone):
        raise LoaError(SEGMENT_OR_ALL)
    message_class = parse_class(cls)
    options = LinkOptions(short_domain=short_domain, campaign=slug(campaign), allow_http=allow_http)
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        report = preview_compose(
            conn,
            workspace_id=store.workspace_id,
            text=text,
            segment=segment,
            cls=message_class,
            sender=sender,
            links=options,
            unaccent=unaccent,
            variables=_variables(var),
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    _show(report)


def _histogram(variant: Variant) -> str:
    return ", ".join(f"{parts}: {number(n)}" for parts, n in sorted(variant.parts.items())) or "-"


def _show(report: ComposePreview) -> None:
    console.print(
        HEADLINE.render(
            audience=number(report.audience),
            rendered=number(report.audience - report.failed),
            failed=number(report.failed),
            cls=report.cls.upper(),
        )
    )
    variants = ((WITH_ACCENTS, report.with_accents), (WITHOUT_ACCENTS, report.without_accents))
    for label, variant in variants:
        console.print(
            ENCODINGS.render(
                label=label.render(),
                gsm=number(variant.encodings.get("GSM-7", 0)),
                ucs2=number(variant.encodings.get("UCS-2", 0)),
                histogram=_histogram(variant),
            ),
            markup=False,
        )
    chosen = report.chosen
    samples = Table(show_lines=True)
    for header in (H_WHICH, H_CONTACT, H_TEXT, H_ENCODING, H_PARTS):
        samples.add_column(header.render())
    picks = ((SHORTEST, chosen.shortest), (TYPICAL, chosen.typical), (LONGEST, chosen.longest))
    for label, sample in picks:
        if sample is not None:
            _sample_row(samples, label, sample)
    console.print(samples)

    costs = Table()
    for header, justify in (
        (H_CARRIER, "left"),
        (H_RECIPIENTS, "right"),
        (H_PARTS, "right"),
        (H_PRICE, "right"),
        (H_COST, "right"),
        (H_COST_BARE, "right"),
        (H_REFUSED, "left"),
    ):
        costs.add_column(header.render(), justify=justify)  # type: ignore[arg-type]
    for key, line in chosen.carriers.items():
        bare = report.without_accents.carriers.get(key)
        refused = f"{number(line.refused)}: {line.refusal}" if line.refused else ""
        costs.add_row(
            UNKNOWN.render() if key == "unknown" else line.name,
            number(line.recipients),
            number(line.parts),
            number(line.price_per_part_vnd),
            number(line.cost_vnd),
            number(bare.cost_vnd) if bare else "",
            refused,
        )
    costs.add_row(
        TOTAL.render(),
        number(sum(line.recipients for line in chosen.carriers.values())),
        number(chosen.total_parts),
        "",
        number(chosen.total_cost_vnd),
        number(report.without_accents.total_cost_vnd),
        number(chosen.refused) if chosen.refused else "",
        style="bold",
    )
    console.print(costs)
    accented = report.with_accents.total_cost_vnd
    bare_total = report.without_accents.total_cost_vnd
    if bare_total < accented:
        console.print(
            SAVING.render(
                bare=number(bare_total),
                accented=number(accented),
                saved=number(accented - bare_total),
            )
        )
    if report.errors:
        console.print(ERRORS.render(failed=number(report.failed), shown=len(report.errors)))
        for error in report.errors:
            console.print(f"  • {error.message}", markup=False)


def _sample_row(table: Table, label: Msg, sample: Sample) -> None:
    table.add_row(label.render(), sample.contact, sample.text, sample.encoding, str(sample.parts))
