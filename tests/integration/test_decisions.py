"""Compliance decisions on a real store (SQLite, and PostgreSQL when configured): the facts
read from every table, the exact decision and reason codes per number, the plan summary,
`explain` and its command."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import typer
from sqlalchemy import Connection, insert, update
from typer.testing import CliRunner

from loa.cli import compliance_decide
from loa.cli.common import State
from loa.config import load_settings
from loa.domain.compliance.decide import UTC_DT
from loa.domain.compliance.reasons import Reason
from loa.i18n import LoaError, set_lang
from loa.services.compliance import decisions as service
from loa.services.compliance.decisions import decide_batch, explain, summarize
from loa.store.db import Store
from loa.store.tables import (
    agreements,
    brandnames,
    channel_states,
    consents,
    contacts,
    dnc_imports,
    dnc_numbers,
    opt_outs,
    outbox,
    registration_requests,
    workspaces,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SENDER = "PHUCLONG"


def vn(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second, tzinfo=VN)


NOW = vn(15, 21)


def phone(i: int) -> str:
    return f"+8491{i:07d}"


def add_contact(
    conn: Connection, ws: int, number: str, *, consent: bool = True, **values: Any
) -> int:
    result = conn.execute(insert(contacts).values(workspace_id=ws, phone=number, **values))
    assert result.inserted_primary_key is not None
    cid = int(result.inserted_primary_key[0])
    if consent:
        add_consent(conn, ws, cid)
    return cid


def add_consent(conn: Connection, ws: int, cid: int, **values: Any) -> None:
    row = {
        "workspace_id": ws,
        "contact_id": cid,
        "channel": "sms",
        "purpose": "marketing",
        "method": "web_form",
        "evidence": "form #118, IP 113.161.4.2",
        "given_at": NOW - timedelta(days=30),
    }
    conn.execute(insert(consents).values({**row, **values}))


def add_sent(conn: Connection, ws: int, number: str, at: datetime, **values: Any) -> None:
    row = {
        "workspace_id": ws,
        "idempotency_key": f"k{number}{at.isoformat()}{values}",
        "phone": number,
        "class": "qc",
        "decision": "send",
        "status": "delivered",
        "submitted_at": at,
        "scheduled_at": at,
    }
    conn.execute(insert(outbox).values({**row, **values}))


def add_brandname(conn: Connection, ws: int, name: str = SENDER, **values: Any) -> None:
    row = {
        "workspace_id": ws,
        "name": name,
        "domains": ["phuclong.vn"],
        "registered_on": date(2024, 1, 10),
        "expires_on": date(2027, 1, 10),
    }
    conn.execute(insert(brandnames).values({**row, **values}))


def recipients(ats: dict[str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {"phone": list(ats), "at": list(ats.values())}, schema={"phone": pl.String, "at": UTC_DT}
    )


def decided(store: Store, ats: dict[str, datetime], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("cls", "qc")
    kwargs.setdefault("sender", SENDER)
    kwargs.setdefault("now", NOW)
    result = decide_batch(store, recipients(ats), **kwargs)
    return {
        r["phone"]: (
            r["decision"],
            r["scheduled_at"].astimezone(VN) if r["scheduled_at"] else None,
            r["reasons"],
        )
        for r in result.frame.iter_rows(named=True)
    }


def test_a_qc_campaign_at_2130_sends_until_2200_and_defers_the_rest_to_0700(
    store: Store,
) -> None:
    ws = store.workspace_id
    ats = {
        phone(1): vn(15, 21, 30),
        phone(2): vn(15, 21, 45),
        phone(3): vn(15, 21, 59, 59),
        phone(4): vn(15, 22),
        phone(5): vn(15, 22, 15),
        phone(6): vn(15, 23, 50),
    }
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        for number in ats:
            add_contact(conn, ws, number)
    result = decide_batch(store, recipients(ats), cls="qc", sender=SENDER, now=NOW)
    got = {
        r["phone"]: (r["decision"], r["scheduled_at"].astimezone(VN), r["reasons"])
        for r in result.frame.iter_rows(named=True)
    }
    assert got == {
        phone(1): ("send", vn(15, 21, 30), []),
        phone(2): ("send", vn(15, 21, 45), []),
        phone(3): ("send", vn(15, 21, 59, 59), []),
        phone(4): ("defer", vn(16, 7), ["quiet_hours"]),
        phone(5): ("defer", vn(16, 7), ["quiet_hours"]),
        phone(6): ("defer", vn(16, 7), ["quiet_hours"]),
    }
    assert [r.render("en") for r in result.reasons(3)] == [
        "Outside the allowed advertising hours (07:00–22:00); deferred to 2025-06-16 07:00."
    ]
    summary = summarize(result)
    assert summary.to_dict() == {
        "total": 6,
        "by_decision": {"defer": 3, "send": 3},
        "by_reason": {"quiet_hours": 3},
        "all_reasons": {"quiet_hours": 3},
        "deferred_until": {"2025-06-16T07:00:00+07:00": 3},
    }


def test_a_fourth_qc_in_24_hours_is_suppressed(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        other = int(
            conn.execute(
                insert(workspaces).values(slug="other", name="Other")
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for i in range(1, 7):
            add_contact(conn, ws, phone(i))
        at = vn(15, 20)
        for i in range(1, 7):
            add_sent(conn, ws, phone(i), at - timedelta(hours=2))
            add_sent(conn, ws, phone(i), at - timedelta(hours=10))
        add_sent(conn, ws, phone(1), at - timedelta(hours=23, minutes=59))  # third in 24 h
        add_sent(conn, ws, phone(2), at - timedelta(hours=24))  # just left the window
        add_sent(conn, ws, phone(3), at - timedelta(hours=1), status="failed")  # never sent
        add_sent(conn, ws, phone(4), at - timedelta(hours=1), **{"class": "cskh"})  # care
        add_sent(conn, other, phone(5), at - timedelta(hours=1))  # another advertiser
        # Planned by another campaign for earlier today, not yet submitted: it counts.
        add_sent(conn, ws, phone(6), at - timedelta(hours=1), status="planned", submitted_at=None)
    got = decided(store, {phone(i): vn(15, 20) for i in range(1, 7)})
    assert got == {
        phone(1): ("suppress", None, ["frequency_cap"]),
        phone(2): ("send", vn(15, 20), []),
        phone(3): ("send", vn(15, 20), []),
        phone(4): ("send", vn(15, 20), []),
        phone(5): ("send", vn(15, 20), []),
        phone(6): ("suppress", None, ["frequency_cap"]),
    }
    one = explain(store, phone(1), "qc", SENDER, vn(15, 20))
    assert one.to_dict("en")["reasons"] == [
        {
            "code": "frequency_cap",
            "message": "Already got 3 advertising messages in 24 hours (limit 3).",
        }
    ]


def test_re_planning_a_campaign_does_not_count_its_own_rows(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        add_contact(conn, ws, phone(1))
        for h in (1, 2, 3):
            add_sent(
                conn, ws, phone(1), vn(15, 20 - h), campaign_id=7, status="planned",
                submitted_at=None,
            )  # fmt: skip
    ats = {phone(1): vn(15, 20)}
    assert decided(store, ats) == {phone(1): ("suppress", None, ["frequency_cap"])}
    assert decided(store, ats, exclude_campaign_id=7) == {phone(1): ("send", vn(15, 20), [])}


def test_each_recipient_fact_gives_its_exact_reason(store: Store) -> None:
    ws = store.workspace_id
    at = vn(15, 10)
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        add_contact(conn, ws, phone(1))  # everything in order
        add_contact(conn, ws, phone(2))
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws, phone=phone(2), scope="all", received_at=NOW - timedelta(days=3),
                effective_at=NOW - timedelta(days=3), source="sms", text="TC",
            )
        )  # fmt: skip
        add_contact(conn, ws, phone(3), dnc=True)
        add_contact(conn, ws, phone(4))
        imported = conn.execute(
            insert(dnc_imports).values(
                workspace_id=ws, source="5656", list_date=date(2025, 6, 1), numbers=1
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            insert(dnc_numbers).values(workspace_id=ws, phone=phone(4), import_id=imported)
        )
        add_contact(conn, ws, phone(5), consent=False)
        cid = add_contact(conn, ws, phone(6), consent=False)
        add_consent(conn, ws, cid, evidence=None)  # a consent without evidence is none
        cid = add_contact(conn, ws, phone(7), consent=False)
        add_consent(conn, ws, cid, withdrawn_at=NOW - timedelta(days=1))
        cid = add_contact(conn, ws, phone(8), consent=False)
        add_consent(conn, ws, cid, purpose="care")  # care consent is not for advertising
        add_contact(conn, ws, phone(9))
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws, phone=phone(9), scope="brand", brandname="HIGHLANDS",
                received_at=NOW, effective_at=NOW, source="sms",
            )
        )  # fmt: skip
        add_contact(conn, ws, phone(10))
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws, phone=phone(10), scope="brand", brandname="PhucLong",
                received_at=NOW, effective_at=NOW - timedelta(hours=12), source="sms",
            )
        )  # fmt: skip
        add_contact(conn, ws, phone(11))
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws, phone=phone(11), scope="all", received_at=NOW - timedelta(days=9),
                effective_at=NOW - timedelta(days=9), source="sms",
                revoked_at=NOW - timedelta(days=2),
            )
        )  # fmt: skip
        cid = add_contact(conn, ws, phone(12))
        conn.execute(
            insert(channel_states).values(
                contact_id=cid, channel="sms", workspace_id=ws, status="opted_out",
                changed_at=NOW - timedelta(days=5), method="import",
            )
        )  # fmt: skip
        for i, answer in ((13, "refuse"), (14, None), (15, "accept")):
            add_contact(conn, ws, phone(i))
            conn.execute(
                insert(registration_requests).values(
                    workspace_id=ws, phone=phone(i), sent_at=NOW - timedelta(days=40),
                    answer=answer,
                )
            )  # fmt: skip
        add_contact(conn, ws, phone(16), invalid_reason="too_short")
    got = decided(store, {phone(i): at for i in range(1, 18)})
    assert got == {
        phone(1): ("send", at, []),
        phone(2): ("suppress", None, ["opted_out"]),
        phone(3): ("suppress", None, ["dnc"]),
        phone(4): ("suppress", None, ["dnc"]),
        phone(5): ("suppress", None, ["no_consent"]),
        phone(6): ("suppress", None, ["no_consent"]),
        phone(7): ("suppress", None, ["no_consent"]),
        phone(8): ("suppress", None, ["no_consent"]),
        phone(9): ("send", at, []),  # refused another brand only
        phone(10): ("suppress", None, ["opted_out"]),  # refused this brand
        phone(11): ("send", at, []),  # refused, then opted back in
        phone(12): ("suppress", None, ["opted_out"]),
        phone(13): ("suppress", None, ["registration_refused"]),
        phone(14): ("suppress", None, ["registration_refused"]),  # no answer, for good
        phone(15): ("send", at, []),
        phone(16): ("suppress", None, ["invalid_number"]),
        phone(17): ("suppress", None, ["no_consent"]),  # not in the book
    }
    # Customer care reaches all of them but the broken number.
    care = decided(store, {phone(i): at for i in range(1, 18)}, cls="cskh")
    assert {p for p, (d, _, _) in care.items() if d != "send"} == {phone(16)}


def test_an_agreement_lifts_the_cap_for_that_person_only_while_in_force(store: Store) -> None:
    ws = store.workspace_id
    at = vn(15, 20)
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        for i in range(1, 5):
            add_contact(conn, ws, phone(i))
            for h in (1, 2, 3):
                add_sent(conn, ws, phone(i), at - timedelta(hours=h))
        base = {"workspace_id": ws, "rule": "frequency_cap", "evidence": "contract 42"}
        conn.execute(
            insert(agreements).values(
                **base, phone=phone(1), value={"max_per_24h": 5}, given_at=NOW - timedelta(days=1)
            )
        )
        conn.execute(
            insert(agreements).values(
                **base, phone=phone(2), value={"max_per_24h": 5},
                given_at=NOW - timedelta(days=10), expires_at=NOW - timedelta(days=1),
            )
        )  # fmt: skip
        conn.execute(
            insert(agreements).values(
                **base, phone=phone(3), value={"max_per_24h": 3}, given_at=NOW - timedelta(days=1)
            )
        )
        conn.execute(
            insert(agreements).values(
                workspace_id=ws, rule="quiet_hours", evidence="asked for late alerts",
                phone=phone(4), value={"start": "06:00", "end": "23:30"},
                given_at=NOW - timedelta(days=1),
            )
        )  # fmt: skip
    got = decided(store, {phone(i): at for i in range(1, 5)})
    assert got == {
        phone(1): ("send", at, []),
        phone(2): ("suppress", None, ["frequency_cap"]),  # expired
        phone(3): ("suppress", None, ["frequency_cap"]),
        phone(4): ("suppress", None, ["frequency_cap"]),  # hours are not the cap
    }
    late = decided(store, {phone(1): vn(15, 23), phone(4): vn(15, 23)})
    assert late[phone(4)] == ("suppress", None, ["frequency_cap"])
    assert late[phone(1)] == ("defer", vn(16, 7), ["quiet_hours"])


def test_the_sender_must_be_a_registered_unexpired_brandname(store: Store) -> None:
    ws = store.workspace_id
    at = vn(15, 10)
    with store.engine.begin() as conn:
        add_contact(conn, ws, phone(1))
        add_brandname(conn, ws, "OLDBRAND", registered_on=date(2022, 1, 1), expires_on=None)
    assert decided(store, {phone(1): at}, sender="NOBRAND") == {
        phone(1): ("suppress", None, ["unregistered_brandname"])
    }
    assert decided(store, {phone(1): at}, sender="oldbrand", cls="public") == {
        phone(1): ("suppress", None, ["brandname_expired"])
    }
    found = explain(store, "0910000001", "public", "OLDBRAND", at)
    assert found.to_dict("vi")["reasons"] == [
        {"code": "brandname_expired", "message": "Brandname 'OLDBRAND' đã hết hạn ngày 2025-01-01."}
    ]
    with store.engine.begin() as conn:
        conn.execute(
            update(brandnames)
            .where(brandnames.c.name == "OLDBRAND")
            .values(expires_on=date(2026, 1, 1))
        )
    # Content reasons come from the caller's checks and stop every recipient.
    blocked = [Reason("content_blocked", {"detail": "link to phuclong-sale.top"})]
    assert decided(store, {phone(1): at}, sender="OLDBRAND", message_reasons=blocked) == {
        phone(1): ("suppress", None, ["content_blocked"])
    }


def test_facts_are_read_in_chunks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = store.workspace_id
    monkeypatch.setattr(service, "CHUNK", 2)
    at = vn(15, 20)
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        for i in range(1, 8):
            add_contact(conn, ws, phone(i), consent=i % 2 == 1)
            for h in range(i % 4 + 1):
                add_sent(conn, ws, phone(i), at - timedelta(hours=h + 1))
    got = decided(store, {phone(i): at for i in range(1, 8)})
    assert got == {
        phone(1): ("send", at, []),  # 2 sent
        phone(2): ("suppress", None, ["no_consent", "frequency_cap"]),  # 3 sent
        phone(3): ("suppress", None, ["frequency_cap"]),  # 4 sent
        phone(4): ("suppress", None, ["no_consent"]),  # 1 sent
        phone(5): ("send", at, []),
        phone(6): ("suppress", None, ["no_consent", "frequency_cap"]),
        phone(7): ("suppress", None, ["frequency_cap"]),
    }


def test_explain_a_number_in_both_languages(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        add_contact(conn, ws, phone(1), dnc=True)
        add_sent(conn, ws, phone(1), vn(15, 21))
    found = explain(store, "0910 000 001", "qc", SENDER, vn(15, 22, 30))
    assert found.to_dict("en") == {
        "phone": phone(1),
        "class": "qc",
        "sender": SENDER,
        "at": "2025-06-15T15:30:00+00:00",
        "decision": "suppress",
        "decision_text": "Suppress",
        "scheduled_at": None,
        "zone": "Asia/Ho_Chi_Minh",
        "qc_sent_24h": 1,
        "qc_limit_24h": 3,
        "reasons": [{"code": "dnc", "message": "The number is on the do-not-call (DNC) list."}],
    }
    set_lang("en")
    with pytest.raises(LoaError) as bad:
        explain(store, "hello", "qc", SENDER, NOW)
    assert bad.value.render("en") == (
        "'hello' is not a valid phone number: Not a phone number: enter the digits, "
        "e.g. 0912345678."
    )


def _cli(db_url: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _main(ctx: typer.Context) -> None:
        ctx.obj = State(load_settings(database_url=db_url))
        ctx.call_on_close(ctx.obj.close)

    app.command("explain")(compliance_decide.explain)
    return app


def test_explain_command(store: Store, db_url: str) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        add_contact(conn, ws, phone(1))
    runner = CliRunner()
    args = ["explain", "0910000001", "--sender", SENDER, "--at", "2025-06-15T22:30"]
    shown = runner.invoke(_cli(db_url), [*args, "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["decision"] == "defer"
    assert data["scheduled_at"] == "2025-06-16T00:00:00+00:00"
    assert data["reasons"] == [
        {
            "code": "quiet_hours",
            "message": "Ngoài giờ được phép gửi quảng cáo (07:00–22:00); "
            "hoãn đến 2025-06-16 07:00.",
        }
    ]
    text = runner.invoke(_cli(db_url), args)
    assert text.exit_code == 0, text.output
    assert "+84910000001 · qc · PHUCLONG · 2025-06-15 22:30 +07: Hoãn" in text.output
    assert "Gửi lúc: 2025-06-16T07:00:00+07:00" in text.output
    assert "quiet_hours" in text.output
    dropped = runner.invoke(_cli(db_url), [*args, "--no-defer", "--json"])
    assert json.loads(dropped.output)["reasons"][0]["code"] == "quiet_hours_expired"
    wrong = runner.invoke(_cli(db_url), [*args[:-1], "tomorrow"])
    assert isinstance(wrong.exception, LoaError)
    assert wrong.exception.code == "cli.compliance.bad_at"


def test_at_is_stored_utc_and_read_back(store: Store) -> None:
    # The deferred instant leaves the engine in UTC: what the outbox stores.
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_brandname(conn, ws)
        add_contact(conn, ws, phone(1))
    result = decide_batch(
        store, recipients({phone(1): vn(15, 23)}), cls="qc", sender=SENDER, now=NOW
    )
    assert result.frame["scheduled_at"].to_list() == [datetime(2025, 6, 16, 0, 0, tzinfo=UTC)]
