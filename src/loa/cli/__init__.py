"""`loa`: the command line. One module per command group; this one wires them together."""

from __future__ import annotations

import sys

import typer

from loa.cli import automations as automations_cli
from loa.cli import brandnames as brandnames_cli
from loa.cli import campaigns as campaigns_cli
from loa.cli import compliance as compliance_cli
from loa.cli import compose as compose_cli
from loa.cli import contacts, events, phone, sample, segments, text, workspaces
from loa.cli import dispatch as dispatch_cli
from loa.cli import dnc as dnc_cli
from loa.cli import inbound as inbound_cli
from loa.cli import media as media_cli
from loa.cli import reports as reports_cli
from loa.cli import serve as serve_cli
from loa.cli import smsc as smsc_cli
from loa.cli import templates as templates_cli
from loa.cli import vouchers as vouchers_cli
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
app.add_typer(campaigns_cli.prices_app, name="prices")
app.add_typer(vouchers_cli.app, name="vouchers")
app.add_typer(media_cli.mms_app, name="mms")
app.add_typer(media_cli.email_app, name="email")
app.add_typer(media_cli.push_app, name="push")
app.add_typer(compliance_cli.app, name="compliance")
app.add_typer(compose_cli.app, name="compose")
app.add_typer(brandnames_cli.app, name="brandnames")
app.add_typer(templates_cli.app, name="templates")
app.add_typer(dnc_cli.app, name="dnc")
app.command("inbound")(inbound_cli.inbound)
app.add_typer(dispatch_cli.routes_app, name="routes")
app.command("worker")(dispatch_cli.worker_command)
app.command("smsc-sim")(smsc_cli.smsc_sim)
app.command("serve")(serve_cli.serve)
app.add_typer(serve_cli.users_app, name="users")
app.add_typer(serve_cli.keys_app, name="keys")
app.add_typer(automations_cli.app, name="automations")
campaigns_cli.app.command("report")(dispatch_cli.report_command)
app.add_typer(reports_cli.app, name="reports")
app.command("tracker")(reports_cli.tracker_command)

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
