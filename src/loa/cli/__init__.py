"""`loa`: the command line. One module per command group; this one wires them together."""

from __future__ import annotations

import sys

import typer

from loa.cli import campaigns as campaigns_cli
from loa.cli import contacts, events, phone, sample, segments, text, workspaces
from loa.cli.common import State, console, err_console
from loa.config import Lang, load_settings
from loa.i18n import LoaError, Msg, set_lang

app = typer.Typer(
    name="loa",
    help="Loa — nhắn tin khách hàng (SMS Brandname, email, push, Zalo). / Customer messaging.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(phone.app, name="phone")
app.add_typer(contacts.app, name="contacts")
app.add_typer(events.app, name="events")
app.add_typer(segments.app, name="segments")
app.add_typer(text.app, name="text")
app.add_typer(workspaces.app, name="workspaces")
app.command("sample")(sample.sample)
app.add_typer(campaigns_cli.app, name="campaigns")

STORE_READY = Msg(
    "cli.store_ready",
    "Cơ sở dữ liệu sẵn sàng: {url} (workspace '{workspace}').",
    "Store ready: {url} (workspace '{workspace}').",
)


@app.callback()
def _main(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default sqlite:///./loa.db; env LOA_DATABASE_URL)."
    ),
    workspace: str | None = typer.Option(None, "--workspace", "-w", help="Workspace slug."),
    lang: Lang | None = typer.Option(None, "--lang", help="vi (default) or en."),
) -> None:
    settings = load_settings(database_url=db, workspace=workspace, lang=lang)
    set_lang(settings.lang)
    ctx.obj = State(settings)
    ctx.call_on_close(ctx.obj.close)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create or upgrade the store (every command also does this on first use)."""
    state: State = ctx.obj
    store = state.store()
    console.print(
        STORE_READY.render(
            url=store.engine.url.render_as_string(hide_password=True),
            workspace=state.settings.workspace,
        )
    )


def main() -> None:
    """Entry point: run the CLI and show domain errors in the user's language."""
    try:
        # Typer handles usage errors and Ctrl-C itself; domain errors come through to here.
        app()
    except LoaError as exc:
        err_console.print(f"[bold red]✗[/] {exc.render()}")
        sys.exit(2)
