"""`loa mms check`, `loa email render`, `loa push payload`: see a message as the channel will
send it, and what stops it, before a campaign uses it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from loa.cli.common import console, err_console
from loa.domain.email import EmailTemplate, build_email, parts_of
from loa.domain.mms import (
    DEFAULT_MAX_SIZE_BYTES,
    KB,
    Mms,
    check_mms,
    media_part,
    ordered_parts,
    shrink_to_fit,
)
from loa.domain.phones import CARRIERS
from loa.domain.push import (
    FCM_MAX_BYTES,
    WEBPUSH_MAX_BYTES,
    Push,
    fcm_message,
    payload_bytes,
    webpush_payload,
)
from loa.i18n import LoaError, Msg, current_lang

mms_app = typer.Typer(no_args_is_help=True, help="Kiểm tra tin MMS. / Check MMS messages.")
email_app = typer.Typer(no_args_is_help=True, help="Xem trước email. / Preview emails.")
push_app = typer.Typer(no_args_is_help=True, help="Thông báo đẩy. / Push notifications.")

KNOWN_CARRIERS = sorted(set(CARRIERS.values()))

UNKNOWN_CARRIER = Msg(
    "cli.media.unknown_carrier",
    "Không biết nhà mạng '{carrier}'. Các nhà mạng: {known}.",
    "Unknown carrier '{carrier}'. Carriers: {known}.",
)
NO_FILE = Msg("cli.media.no_file", "Không tìm thấy tệp {path}.", "File not found: {path}.")
BAD_VAR = Msg(
    "cli.media.bad_var",
    "Biến '{value}' cần dạng TEN=GIA_TRI, ví dụ --var given_name=An.",
    "The variable '{value}' needs the form NAME=VALUE, e.g. --var given_name=An.",
)
BAD_VARS_FILE = Msg(
    "cli.media.bad_vars_file",
    'Tệp biến {path} phải là một đối tượng JSON, ví dụ {{"given_name": "An"}}: {error}.',
    'The variables file {path} must be a JSON object, e.g. {{"given_name": "An"}}: {error}.',
)
MMS_OK = Msg(
    "cli.media.mms_ok",
    "✓ Gửi được: {size} KB / giới hạn {limit} KB của {carrier}.",
    "✓ Can be sent: {size} KB of {carrier}'s {limit} KB limit.",
)
MMS_SHRUNK = Msg(
    "cli.media.mms_shrunk",
    "Đã nén {name}: {before} KB → {after} KB, lưu ở {path}.",
    "Shrunk {name}: {before} KB → {after} KB, saved as {path}.",
)
PUSH_SIZE = Msg(
    "cli.media.push_size",
    "Kích thước: {size} / {limit} byte.",
    "Size: {size} of {limit} bytes.",
)
H_PART = Msg("cli.media.h_part", "Phần", "Part")
H_TYPE = Msg("cli.media.h_type", "Kiểu", "Content type")
H_SIZE = Msg("cli.media.h_size", "KB", "KB")
DEFAULT_CARRIER = Msg("cli.media.default_carrier", "mặc định", "default")


def _kb(size_bytes: int) -> str:
    text = f"{size_bytes / KB:.1f}"
    return text.replace(".", ",") if current_lang() == "vi" else text


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise LoaError(NO_FILE, path=str(path)) from None


def _carrier_name(carrier: str | None) -> str | None:
    if carrier is None:
        return None
    for known in KNOWN_CARRIERS:
        if known.casefold() == carrier.casefold():
            return known
    raise LoaError(UNKNOWN_CARRIER, carrier=carrier, known=", ".join(KNOWN_CARRIERS))


@mms_app.command("check")
def mms_check(
    files: list[Path] = typer.Argument(..., help="Images, audio, video, vCard files."),
    subject: str = typer.Option("", "--subject", help="The MMS subject."),
    text: str = typer.Option("", "--text", help="The MMS text (at most 1,600 characters)."),
    carrier: str | None = typer.Option(None, "--carrier", help="Carrier whose limit applies."),
    max_kb: int | None = typer.Option(
        None, "--max-kb", min=1, help="Size limit in KB (default 500)."
    ),
    shrink: bool = typer.Option(False, "--shrink", help="Re-compress images to fit the limit."),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="Where shrunk images go (default: next to each file)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check MMS parts against the size limit and formats; exit 1 when it cannot be sent."""
    carrier_name = _carrier_name(carrier)
    shown_carrier = carrier_name or DEFAULT_CARRIER.render()
    limit_bytes = max_kb * KB if max_kb else DEFAULT_MAX_SIZE_BYTES
    sources = {}
    parts = []
    for path in files:
        part = media_part(path.name, _read(path))
        sources[part.name] = path
        parts.append(part)
    mms = Mms(subject=subject, text=text, parts=tuple(parts))
    shrunk: list[dict[str, Any]] = []
    if shrink:
        fitted = shrink_to_fit(mms, max_size_bytes=limit_bytes, carrier=shown_carrier)
        for before, after in zip(mms.parts, fitted.parts, strict=True):
            if after is before:
                continue
            origin = sources[before.name]
            folder = out_dir or origin.parent
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{origin.stem}.mms.jpg"
            target.write_bytes(after.data)
            shrunk.append(
                {"name": before.name, "path": str(target), "before_bytes": before.size_bytes,
                 "after_bytes": after.size_bytes}
            )  # fmt: skip
        mms = fitted
    problems = check_mms(mms, max_size_bytes=limit_bytes, carrier=shown_carrier)
    layout = ordered_parts(mms)
    if as_json:
        data = {
            "ok": not problems,
            "carrier": carrier_name,
            "size_bytes": mms.size_bytes,
            "limit_bytes": limit_bytes,
            "parts": [
                {"content_id": p.content_id, "content_type": p.content_type,
                 "size_bytes": len(p.data)}
                for p in layout
            ],
            "shrunk": shrunk,
            "problems": [{"code": e.code, "message": e.render()} for e in problems],
        }  # fmt: skip
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        for item in shrunk:
            console.print(
                MMS_SHRUNK.render(
                    name=item["name"],
                    before=_kb(item["before_bytes"]),
                    after=_kb(item["after_bytes"]),
                    path=item["path"],
                )
            )
        table = Table()
        for header in (H_PART, H_TYPE, H_SIZE):
            table.add_column(header.render())
        for p in layout:
            table.add_row(p.content_id, p.content_type, _kb(len(p.data)))
        console.print(table)
        for problem in problems:
            err_console.print(f"[bold red]✗[/] {problem.render()}")
        if not problems:
            console.print(
                MMS_OK.render(
                    size=_kb(mms.size_bytes), limit=_kb(limit_bytes), carrier=shown_carrier
                )
            )
    if problems:
        raise typer.Exit(1)


def _variables(pairs: list[str], vars_file: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if vars_file is not None:
        try:
            loaded = json.loads(_read(vars_file))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LoaError(BAD_VARS_FILE, path=str(vars_file), error=exc) from None
        if not isinstance(loaded, Mapping):
            raise LoaError(BAD_VARS_FILE, path=str(vars_file), error=type(loaded).__name__)
        values.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise LoaError(BAD_VAR, value=pair)
        values[name.strip()] = value
    return values


@email_app.command("render")
def email_render(
    subject: str = typer.Option(..., "--subject", help="Subject template."),
    html: Path = typer.Option(..., "--html", help="HTML template file."),
    text: Path | None = typer.Option(
        None, "--text", help="Plain-text template file (default: derived from the HTML)."
    ),
    to: str = typer.Option(..., "--to", help="Recipient address."),
    sender: str = typer.Option(
        "Loa <no-reply@example.com>", "--from", help="Sender address, e.g. 'Shop <news@shop.vn>'."
    ),
    unsubscribe_url: str = typer.Option(
        "https://example.com/unsubscribe", "--unsubscribe-url", help="One-click https link."
    ),
    unsubscribe_mailto: str | None = typer.Option(
        None, "--unsubscribe-mailto", help="Address that takes unsubscribe emails."
    ),
    var: list[str] = typer.Option([], "--var", help="A template variable: NAME=VALUE."),
    vars_file: Path | None = typer.Option(None, "--vars", help="Variables as a JSON object."),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="e.g. c12:4711"),
    eml: Path | None = typer.Option(None, "--eml", help="Also write the message to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print headers and both parts as JSON."),
) -> None:
    """Render an email: headers, the plain-text part and the HTML part."""
    template = EmailTemplate(
        subject=subject,
        html=_read(html).decode(),
        text=_read(text).decode() if text else None,
    )
    message = build_email(
        template,
        sender=sender,
        to=to,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=unsubscribe_mailto,
        context=_variables(var, vars_file),
        idempotency_key=idempotency_key,
    )
    if eml is not None:
        eml.write_bytes(message.as_bytes())
    body_text, body_html = parts_of(message)
    headers = {
        name: str(message[name])
        for name in message.keys()  # noqa: SIM118 - a Message is not a dict
        if name not in ("MIME-Version", "Content-Type")
    }
    if as_json:
        data = {"headers": headers, "text": body_text, "html": body_html,
                "size_bytes": len(message.as_bytes())}  # fmt: skip
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    for name, value in headers.items():
        console.print(f"[bold]{name}:[/] {value}", highlight=False, markup=True)
    console.print()
    console.print(body_text, highlight=False, markup=False)


class PushTarget(StrEnum):
    """Where a push payload goes."""

    fcm = "fcm"
    webpush = "webpush"


@push_app.command("payload")
def push_payload(
    title: str = typer.Option(..., "--title", help="Notification title."),
    body: str = typer.Option("", "--body", help="Notification text."),
    link: str | None = typer.Option(None, "--link", help="Deep link (https:// or app://)."),
    image: str | None = typer.Option(None, "--image", help="Image URL (https)."),
    target: PushTarget = typer.Option(PushTarget.fcm, "--target", help="fcm or webpush."),
    token: str | None = typer.Option(None, "--token", help="FCM device token."),
    topic: str | None = typer.Option(None, "--topic", help="FCM topic."),
    data: list[str] = typer.Option([], "--data", help="Extra data: KEY=VALUE."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON, with its size."),
) -> None:
    """Build the FCM HTTP v1 or Web Push payload and check its size."""
    push = Push(title=title, body=body, link=link, image=image, data=_variables(data, None))
    if target is PushTarget.fcm:
        if token is None and topic is None:
            token = "<device-token>"  # a preview: the dispatcher fills in each device's token
        payload = fcm_message(push, token=token, topic=topic)
        counted = {k: v for k, v in payload["message"].items() if k not in ("token", "topic")}
        size, limit = payload_bytes(counted), FCM_MAX_BYTES
    else:
        payload = webpush_payload(push)
        size, limit = payload_bytes(payload), WEBPUSH_MAX_BYTES
    if as_json:
        result = {"target": target.value, "size_bytes": size, "limit_bytes": limit,
                  "payload": payload}  # fmt: skip
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    console.print(PUSH_SIZE.render(size=size, limit=limit))
