"""`loa text ...`: how an SMS text would be sent (encoding, parts, without accents), brandnames."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from loa.cli.common import console
from loa.domain.text import (
    GSM7,
    AccentComparison,
    SmsAnalysis,
    analyze,
    compare_accents,
    non_gsm_characters,
    validate_brandname,
)
from loa.i18n import LoaError, Msg

app = typer.Typer(
    no_args_is_help=True,
    help="Mã hoá, số tin nhắn và brandname. / SMS encoding, parts and brandnames.",
)

NO_TEXT = Msg(
    "cli.text.no_text",
    'Chưa có nội dung tin nhắn: viết nó sau lệnh (loa text info "Nội dung") hoặc chuyển qua '
    "đầu vào chuẩn.",
    'No message text: give it after the command (loa text info "Your text") or pipe it in.',
)
TEXT_AND_JSONL = Msg(
    "cli.text.text_and_jsonl",
    "--jsonl đọc tin nhắn từ đầu vào chuẩn: bỏ nội dung viết sau lệnh, hoặc bỏ --jsonl.",
    "--jsonl reads the messages from standard input: drop the text after the command, or "
    "drop --jsonl.",
)
BAD_JSONL = Msg(
    "cli.text.bad_jsonl",
    'Dòng {line} của đầu vào không phải đối tượng JSON có "text" là chuỗi: viết mỗi dòng '
    'dạng {{"text": "Nội dung tin nhắn"}}.',
    'Line {line} of the input is not a JSON object whose "text" is a string: write each line '
    'as {{"text": "Your message"}}.',
)
TITLE = Msg("cli.text.title", "Tin nhắn SMS", "SMS message")
ENCODING = Msg("cli.text.encoding", "Mã hoá", "Encoding")
GSM7_RULE = Msg(
    "cli.text.gsm7_rule",
    "GSM-7: 160 septet một tin, 153 mỗi phần khi ghép",
    "GSM-7: 160 septets in one part, 153 per part when split",
)
UCS2_RULE = Msg(
    "cli.text.ucs2_rule",
    "UCS-2: 70 đơn vị UTF-16 một tin, 67 mỗi phần khi ghép",
    "UCS-2: 70 UTF-16 units in one part, 67 per part when split",
)
PARTS = Msg("cli.text.parts", "Số tin", "Parts")
LENGTH = Msg("cli.text.length", "Độ dài", "Length")
SEPTETS = Msg("cli.text.septets", "{n} septet", "{n} septets")
UNITS = Msg("cli.text.units", "{n} đơn vị UTF-16", "{n} UTF-16 units")
LEFT = Msg("cli.text.left", "Còn trống ở tin cuối", "Room left in the last part")
FORCING = Msg("cli.text.forcing", "Ký tự buộc dùng UCS-2", "Characters that force UCS-2")
REPLACED = Msg("cli.text.replaced", "Đã thay", "Replaced")
PART = Msg("cli.text.part", "Tin {i} ({chars} ký tự)", "Part {i} ({chars} characters)")
WITH_ACCENTS = Msg(
    "cli.text.with_accents", "Có dấu: {encoding}, {n} tin", "With accents: {encoding}, {n} parts"
)
WITHOUT_ACCENTS = Msg(
    "cli.text.without_accents",
    "Không dấu: {encoding}, {n} tin",
    "Without accents: {encoding}, {n} parts",
)
CHEAPER = Msg(
    "cli.text.cheaper",
    "Không dấu: {without} tin thay vì {with_} (tiết kiệm {saved} tin cho mỗi người nhận).",
    "Without accents: {without} parts instead of {with_} ({saved} fewer per recipient).",
)
NOT_CHEAPER = Msg(
    "cli.text.not_cheaper",
    "Không dấu cũng cần {n} tin: giữ dấu không tốn thêm.",
    "Without accents it still takes {n} parts: the accents cost nothing extra.",
)
BRANDNAME_OK = Msg(
    "cli.text.brandname_ok",
    "Brandname '{name}' hợp lệ ({length}/11 ký tự).",
    "Brandname '{name}' is valid ({length}/11 characters).",
)
FORCING_SHOWN = 20


@app.command("info")
def info(
    text: str | None = typer.Argument(
        None, help="The message; read from standard input if left out."
    ),
    unaccent: bool = typer.Option(False, "--unaccent", help="Send without accents (không dấu)."),
    smart_encoding: bool = typer.Option(
        False, "--smart-encoding", help="Replace look-alikes (curly quotes, dashes) with GSM-7."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    jsonl: bool = typer.Option(
        False, "--jsonl", help='Read {"text": ...} per line on standard input; print one per line.'
    ),
) -> None:
    """Encoding, parts and length of an SMS text, and what it would take without accents."""
    if jsonl:
        if text is not None:
            raise LoaError(TEXT_AND_JSONL)
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                body = json.loads(line)
            except json.JSONDecodeError:
                raise LoaError(BAD_JSONL, line=number) from None
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                raise LoaError(BAD_JSONL, line=number)
            result = analyze(body["text"], smart_encoding=smart_encoding, unaccent=unaccent)
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    if text is None:
        if sys.stdin.isatty():
            raise LoaError(NO_TEXT)
        text = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if as_json:
        result = analyze(text, smart_encoding=smart_encoding, unaccent=unaccent)
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    if unaccent:
        _print_analysis(analyze(text, smart_encoding=smart_encoding, unaccent=True))
        return
    comparison = compare_accents(text, smart_encoding=smart_encoding)
    _print_analysis(comparison.with_accents)
    if comparison.has_accents:
        _print_comparison(comparison)


def _parts_table(result: SmsAnalysis) -> Table:
    table = Table.grid(padding=(0, 1))
    for i, (part, chars) in enumerate(zip(result.parts, result.chars_per_segment, strict=True)):
        table.add_row(Text(PART.render(i=i + 1, chars=chars), style="dim"))
        table.add_row(Text(part))
    return table


def _print_analysis(result: SmsAnalysis) -> None:
    gsm = result.encoding == GSM7
    grid = Table.grid(padding=(0, 2))
    grid.add_row(ENCODING.render(), (GSM7_RULE if gsm else UCS2_RULE).render())
    grid.add_row(PARTS.render(), str(result.segments))
    grid.add_row(LENGTH.render(), (SEPTETS if gsm else UNITS).render(n=result.units))
    grid.add_row(LEFT.render(), str(result.units_left_in_last_part))
    if not gsm:
        forcing = non_gsm_characters(result.text)
        shown = " ".join(forcing[:FORCING_SHOWN]) + (" …" if len(forcing) > FORCING_SHOWN else "")
        grid.add_row(FORCING.render(), Text(shown))
    if result.replaced:
        pairs = ", ".join(f"{old!r} → {new!r}" for old, new in result.replaced)
        grid.add_row(REPLACED.render(), Text(pairs))
    console.print(Panel(Group(grid, Text(""), _parts_table(result)), title=TITLE.render()))


def _print_comparison(comparison: AccentComparison) -> None:
    with_, without = comparison.with_accents, comparison.without_accents
    table = Table(expand=True)
    table.add_column(WITH_ACCENTS.render(encoding=with_.encoding, n=with_.segments), ratio=1)
    table.add_column(WITHOUT_ACCENTS.render(encoding=without.encoding, n=without.segments), ratio=1)
    table.add_row(_parts_table(with_), _parts_table(without))
    console.print(table)
    if comparison.segments_saved > 0:
        line = CHEAPER.render(
            without=without.segments, with_=with_.segments, saved=comparison.segments_saved
        )
        console.print(Text("→ " + line, style="bold green"))
    else:
        console.print(Text("→ " + NOT_CHEAPER.render(n=without.segments)))


@app.command("brandname")
def brandname(name: str = typer.Argument(..., help="The sender name, e.g. LOA.VN")) -> None:
    """Check that a sender name (brandname) is one the carriers can register."""
    validate_brandname(name)
    console.print(Text("✓ ", style="bold green") + BRANDNAME_OK.render(name=name, length=len(name)))
