"""`loa serve`, `loa users …` and `loa keys …`: the web side and who may use it."""

from __future__ import annotations

import getpass
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from loa.api import logs
from loa.cli.common import State, console
from loa.i18n import LoaError, Msg
from loa.services.accounts import (
    PERMISSIONS,
    create_key,
    create_user,
    enroll_totp,
    list_keys,
    list_users,
    revoke_key,
)
from loa.services.audit import cli_actor


def _header(code: str, vi: str, en: str) -> Msg:
    return Msg(f"cli.header.{code}", vi, en)


USER_HEADERS = (
    _header("id", "#", "#"),
    _header("email", "Email", "Email"),
    _header("role", "Vai trò", "Role"),
    _header("lang", "Ngôn ngữ", "Language"),
    _header("totp", "Xác thực 2 lớp", "2FA"),
    _header("last_login", "Đăng nhập gần nhất", "Last sign-in"),
)
KEY_HEADERS = (
    _header("id", "#", "#"),
    _header("name", "Tên", "Name"),
    _header("prefix", "Tiền tố", "Prefix"),
    _header("scopes", "Quyền", "Scopes"),
    _header("last_used", "Dùng gần nhất", "Last used"),
    _header("revoked", "Thu hồi lúc", "Revoked"),
)

users_app = typer.Typer(help="Người dùng bảng điều khiển. / Dashboard users.", no_args_is_help=True)
keys_app = typer.Typer(help="Khoá API. / API keys.", no_args_is_help=True)

SERVING = Msg(
    "cli.serving",
    "Loa đang chạy tại http://{host}:{port} (API: /api/v1, tài liệu: /api/docs){worker}. "
    "Ctrl-C để dừng.",
    "Loa is serving on http://{host}:{port} (API: /api/v1, docs: /api/docs){worker}. "
    "Ctrl-C to stop.",
)
WITH_WORKER = Msg("cli.with_worker", ", kèm worker gửi tin", ", with a dispatch worker")
PASSWORD_PROMPT = Msg("cli.password_prompt", "Mật khẩu cho {email}", "Password for {email}")
NO_PASSWORD = Msg(
    "cli.no_password",
    "Không đọc được mật khẩu: dùng --password-stdin và truyền mật khẩu qua stdin.",
    "No password could be read: use --password-stdin and pipe the password in.",
)
USER_ADDED = Msg(
    "cli.user_added",
    "Đã thêm {email} ({role}) vào workspace '{workspace}'.",
    "Added {email} ({role}) to the workspace '{workspace}'.",
)
TOTP_URI = Msg(
    "cli.totp_uri",
    "Thêm mã này vào ứng dụng xác thực (Google Authenticator, Aegis…); nó chỉ hiện một lần:",
    "Add this to an authenticator app (Google Authenticator, Aegis…); it is shown only once:",
)
UNKNOWN_EMAIL = Msg(
    "cli.unknown_email",
    "Không có người dùng {email} trong workspace này (xem: loa users list).",
    "There is no user {email} in this workspace (see: loa users list).",
)
KEY_CREATED = Msg(
    "cli.key_created",
    "Khoá API #{id} ({scopes}). Lưu lại ngay: khoá chỉ hiện một lần này.",
    "API key #{id} ({scopes}). Store it now: it is shown this once only.",
)
KEY_REVOKED = Msg("cli.key_revoked", "Đã thu hồi khoá #{id}.", "Revoked key #{id}.")
NO_ROWS = Msg("cli.none_yet", "Chưa có.", "None yet.")


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Do not run a dispatch worker."),
) -> None:
    """Serve the API, the dashboard and the click redirects (and a dispatch worker)."""
    import uvicorn

    from loa.server import create_app

    state: State = ctx.obj
    app = create_app(state.settings, store=state.store(), worker=not no_worker)
    console.print(
        SERVING.render(host=host, port=port, worker="" if no_worker else WITH_WORKER.render()),
        highlight=False,
    )
    # Our handler, not uvicorn's: every line (access log included) passes the phone mask.
    logs.install(logging.INFO)
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=False)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="name@company.vn"),
    role: str = typer.Option("owner", "--role", help="owner, admin, marketer, analyst, developer"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin (for scripts)."
    ),
    lang: str = typer.Option("vi", "--lang", help="vi or en: the user's dashboard language."),
    name: str | None = typer.Option(None, "--name", help="Full name."),
) -> None:
    """Add a user who can sign in to the dashboard."""
    state: State = ctx.obj
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass(PASSWORD_PROMPT.render(email=email) + ": ")
        except (EOFError, OSError):
            raise LoaError(NO_PASSWORD) from None
    store = state.store()
    with store.engine.begin() as conn:
        create_user(
            conn,
            workspace_id=store.workspace_id,
            email=email,
            password=password,
            role=role,
            lang=lang,
            name=name,
            actor=cli_actor(),
        )
    console.print(
        USER_ADDED.render(
            email=email.strip().lower(), role=role, workspace=state.settings.workspace
        ),
        highlight=False,
    )


@users_app.command("list")
def users_list(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """The workspace's users."""
    store = ctx.obj.store()
    with store.engine.connect() as conn:
        found = list_users(conn, workspace_id=store.workspace_id)
    _print_rows(
        found,
        as_json=as_json,
        headers=USER_HEADERS,
        row=lambda u: (
            str(u["id"]),
            escape(u["email"]),
            u["role"],
            u["lang"],
            "✓" if u["totp"] else "",
            _when(u["last_login_at"]),
        ),
    )


@users_app.command("totp")
def users_totp(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Give a user a (new) second factor and print its otpauth:// address once."""
    store = ctx.obj.store()
    with store.engine.begin() as conn:
        found = [
            u
            for u in list_users(conn, workspace_id=store.workspace_id)
            if u["email"] == email.strip().lower()
        ]
        if not found:
            raise LoaError(UNKNOWN_EMAIL, email=email)
        uri = enroll_totp(
            conn, workspace_id=store.workspace_id, user_id=found[0]["id"], actor=cli_actor()
        )
    console.print(TOTP_URI.render())
    typer.echo(uri)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    scopes: str = typer.Option(
        ...,
        "--scopes",
        help="Comma-separated, e.g. events:write,contacts:read. All: " + ", ".join(PERMISSIONS),
    ),
    name: str = typer.Option("api", "--name", help="What the key is for."),
) -> None:
    """Create an API key and print it once (only its hash is kept)."""
    store = ctx.obj.store()
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    with store.engine.begin() as conn:
        key_id, key = create_key(
            conn, workspace_id=store.workspace_id, name=name, scopes=wanted, actor=cli_actor()
        )
    console.print(
        KEY_CREATED.render(id=key_id, scopes=", ".join(sorted(set(wanted)))), highlight=False
    )
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """The workspace's API keys (prefixes only)."""
    store = ctx.obj.store()
    with store.engine.connect() as conn:
        found = list_keys(conn, workspace_id=store.workspace_id)
    _print_rows(
        found,
        as_json=as_json,
        headers=KEY_HEADERS,
        row=lambda k: (
            str(k["id"]),
            escape(k["name"]),
            k["prefix"] + "…",
            ", ".join(k["scopes"]),
            _when(k["last_used_at"]),
            _when(k["revoked_at"]),
        ),
    )


def _when(at: datetime | None) -> str:
    return at.strftime("%d/%m/%Y %H:%M") if at else ""


def _print_rows(
    found: list[dict[str, Any]],
    *,
    as_json: bool,
    headers: tuple[Msg, ...],
    row: Callable[[dict[str, Any]], tuple[str, ...]],
) -> None:
    """A listing as JSON, or as a table with headers in the user's language."""
    if as_json:
        typer.echo(json.dumps(found, default=str, ensure_ascii=False))
        return
    if not found:
        console.print(NO_ROWS.render())
        return
    table = Table(*(header.render() for header in headers))
    for item in found:
        table.add_row(*row(item))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: int = typer.Argument(...)) -> None:
    """Revoke a key: it stops working at once."""
    store = ctx.obj.store()
    with store.engine.begin() as conn:
        revoke_key(conn, workspace_id=store.workspace_id, key_id=key_id, actor=cli_actor())
    console.print(KEY_REVOKED.render(id=key_id))
