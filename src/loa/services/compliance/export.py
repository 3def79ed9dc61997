"""The record an inspector asks for: consents, opt-outs, their confirmations and the DKQC
registration messages of a period, in one CSV or XLSX file.

Numbers are written whole here (the inspector must be able to check them against the
carriers' records); the export itself goes into the audit log, with who, when and how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, and_, or_, select

from loa.domain.compliance.packs import Pack
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.compliance.brandnames import workspace_pack
from loa.services.contacts.people import FORGET_ACTION
from loa.store.db import Store
from loa.store.tables import (
    audit_log,
    consents,
    contacts,
    opt_outs,
    outbox,
    registration_requests,
)

COLUMNS = (
    "kind", "phone", "channel", "purpose", "brandname", "method", "evidence", "at",
    "effective_at", "ended_at", "text", "source", "reference",
)  # fmt: skip
KINDS = ("consent", "opt_out", "confirmation", "registration")

BAD_PERIOD = Msg(
    "export.bad_period",
    "Ngày bắt đầu {start} sau ngày kết thúc {end}; hãy đổi --from và --to.",
    "The start {start} is after the end {end}; swap --from and --to.",
)
BAD_FORMAT = Msg(
    "export.bad_format",
    "Không xuất được ra '{path}': chỉ hỗ trợ .csv hoặc .xlsx.",
    "Cannot export to '{path}': only .csv or .xlsx.",
)


@dataclass
class ExportReport:
    """What the export wrote."""

    path: Path
    start: date
    end: date
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def _zone(pack: Pack) -> ZoneInfo:
    return ZoneInfo("UTC" if pack.timezone == "recipient" else pack.timezone)


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _erased_consents(
    conn: Connection, workspace_id: int, lo: datetime, hi: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Consents of people erased since: kept in the erasure's audit entry, the number masked
    and filed under its one-way token (the inspector hashes the number to find it)."""
    rows: list[dict[str, Any]] = []
    for entry in conn.execute(
        select(audit_log.c.target, audit_log.c.details)
        .where(audit_log.c.workspace_id == workspace_id, audit_log.c.action == FORGET_ACTION)
        .order_by(audit_log.c.at, audit_log.c.id)
    ):
        details = entry.details or {}
        for c in details.get("consents", ()):
            given, withdrawn = _moment(c.get("given_at")), _moment(c.get("withdrawn_at"))
            if not any(m is not None and lo <= m < hi for m in (given, withdrawn)):
                continue
            rows.append(
                {"kind": "consent", "phone": entry.target, "channel": c.get("channel"),
                 "purpose": c.get("purpose"), "method": c.get("method"),
                 "evidence": c.get("evidence"), "at": _local(given, zone),
                 "ended_at": _local(withdrawn, zone), "source": c.get("source"),
                 "reference": f"{c.get('reference')} erased:{details.get('fingerprint')}"}
            )  # fmt: skip
    return rows


def compliance_rows(
    conn: Connection, workspace_id: int, start: date, end: date
) -> list[dict[str, Any]]:
    """Every record of the period [start, end] (whole days in the pack's time zone)."""
    pack = workspace_pack(conn, workspace_id)
    zone = _zone(pack)
    lo = datetime.combine(start, time(), zone)
    hi = datetime.combine(end + timedelta(days=1), time(), zone)

    def within(column: Any) -> Any:
        return and_(column >= lo, column < hi)

    rows: list[dict[str, Any]] = []
    for r in conn.execute(
        select(consents, contacts.c.phone)
        .join(contacts, contacts.c.id == consents.c.contact_id)
        .where(
            consents.c.workspace_id == workspace_id,
            or_(within(consents.c.given_at), within(consents.c.withdrawn_at)),
        )
        .order_by(consents.c.given_at, consents.c.id)
    ):
        rows.append(
            {"kind": "consent", "phone": r.phone, "channel": r.channel, "purpose": r.purpose,
             "method": r.method, "evidence": r.evidence, "at": _local(r.given_at, zone),
             "ended_at": _local(r.withdrawn_at, zone), "source": r.source,
             "reference": f"consent:{r.id}"}
        )  # fmt: skip
    rows += _erased_consents(conn, workspace_id, lo, hi, zone)
    for r in conn.execute(
        select(opt_outs)
        .where(opt_outs.c.workspace_id == workspace_id, within(opt_outs.c.received_at))
        .order_by(opt_outs.c.received_at, opt_outs.c.id)
    ):
        rows.append(
            {"kind": "opt_out", "phone": r.phone, "channel": r.channel, "purpose": r.scope,
             "brandname": r.brandname, "at": _local(r.received_at, zone),
             "effective_at": _local(r.effective_at, zone), "ended_at": _local(r.revoked_at, zone),
             "text": r.text, "source": r.source, "reference": f"opt_out:{r.id}"}
        )  # fmt: skip
    for r in conn.execute(
        select(outbox)
        .where(
            outbox.c.workspace_id == workspace_id,
            outbox.c["class"] == "confirmation",
            outbox.c.idempotency_key.like("optout-confirm:%"),
            within(outbox.c.created_at),
        )
        .order_by(outbox.c.created_at, outbox.c.id)
    ):
        opt_out = r.idempotency_key.split(":", 1)[1]
        rows.append(
            {"kind": "confirmation", "phone": r.phone, "channel": r.channel,
             "brandname": r.sender, "method": r.status, "at": _local(r.created_at, zone),
             "effective_at": _local(r.submitted_at, zone), "ended_at": _local(r.done_at, zone),
             "text": r.text, "reference": f"opt_out:{opt_out}"}
        )  # fmt: skip
    for r in conn.execute(
        select(registration_requests)
        .where(
            registration_requests.c.workspace_id == workspace_id,
            within(registration_requests.c.sent_at),
        )
        .order_by(registration_requests.c.sent_at, registration_requests.c.phone)
    ):
        rows.append(
            {"kind": "registration", "phone": r.phone, "channel": "sms", "method": r.answer,
             "at": _local(r.sent_at, zone), "ended_at": _local(r.answered_at, zone)}
        )  # fmt: skip
    return [{c: row.get(c) or "" for c in COLUMNS} for row in rows]


def export_compliance(
    store: Store, start: date, end: date, path: Path, *, actor: str = "cli"
) -> ExportReport:
    """Write the period's records to `path` (.csv or .xlsx) and audit-log the export."""
    if start > end:
        raise LoaError(BAD_PERIOD, start=start.isoformat(), end=end.isoformat())
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise LoaError(BAD_FORMAT, path=path)
    with store.engine.begin() as conn:
        rows = compliance_rows(conn, store.workspace_id, start, end)
        report = ExportReport(path, start, end, dict.fromkeys(KINDS, 0))
        for row in rows:
            report.counts[row["kind"]] += 1
        # Logged first: a file that fails to write rolls the entry back with it.
        audit.record(
            conn,
            workspace_id=store.workspace_id,
            actor=actor,
            action="compliance.export",
            target=path.name[:200],
            details={"from": start.isoformat(), "to": end.isoformat(), **report.counts},
        )
        frame = pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String))
        if suffix == ".csv":
            frame.write_csv(path)
        else:
            frame.write_excel(path, worksheet="compliance", autofit=True)
    return report
