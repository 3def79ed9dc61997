"""`loa inbound PHONE TEXT`: feed one reply in as if a carrier had delivered it (for testing and
for refusals taken by phone)."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from loa.cli.common import State, console
from loa.services.compliance.inbound import receive_inbound


def inbound(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="The customer's number."),
    text: str = typer.Argument(..., help="What they wrote, e.g. TC."),
    to: str | None = typer.Option(None, "--to", help="The short code it was sent to."),
    provider_id: str | None = typer.Option(
        None, "--provider-id", help="The provider's message id (a repeat is ignored)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Handle one inbound reply: opt-out, opt-in or help keywords act at once."""
    state: State = ctx.obj
    result = receive_inbound(
        state.store(), phone, text, to=to, source="cli", provider_id=provider_id
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    console.print(escape(result.summary()))
    if result.reply_text and not result.already_opted_out:
        console.print(f"  → {escape(result.reply_text)}")
