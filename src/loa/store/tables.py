"""Every table Loa keeps. Each row belongs to one workspace (tenant).

Datetimes are stored as naive UTC (`UtcDateTime` converts at the edge), so SQLite and
PostgreSQL compare them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the store."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite hands back the stored text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Id, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("policy_pack", String(16), nullable=False, server_default="vn"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("phone", String(20), nullable=False, comment="E.164"),
    Column("name", String(200)),
    Column("given_name", String(80), comment="last word of a Vietnamese full name"),
    Column("email", String(254)),
    Column("gender", String(8), comment="male / female / other"),
    Column("birthday", Date),
    Column("birth_mmdd", SmallInteger, comment="month*100+day, for birthday windows"),
    Column("province", String(80)),
    Column("carrier", String(16), comment="original range holder; numbers are portable"),
    Column("phone_type", String(24)),
    Column("legacy_converted", Boolean, nullable=False, server_default=text("false")),
    Column("attrs", Json, comment="custom attributes"),
    Column("source", String(200)),
    Column("dnc", Boolean, nullable=False, server_default=text("false")),
    Column("invalid_reason", Text),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    # No secondary indexes: segment counts scan a workspace's contacts in well under a second
    # per million, while each index would add ~1.5 s to importing a million rows.
    UniqueConstraint("workspace_id", "phone", name="uq_contacts_workspace_phone"),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Index("ix_contact_tags_workspace_tag", "workspace_id", "tag"),
)

# No row means "subscribed": only changes from the default are stored.
channel_states = Table(
    "channel_states",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("channel", String(8), primary_key=True, comment="sms / email / push / zalo"),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("status", String(16), nullable=False, comment="subscribed / opted_out"),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("method", String(32), comment="how: reply keyword, hotline, form, app, import"),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("purpose", String(16), nullable=False, comment="marketing / care"),
    Column("method", String(32), nullable=False),
    Column("evidence", Text),
    Column("given_at", UtcDateTime, nullable=False),
    Column("withdrawn_at", UtcDateTime),
    Column("source", String(200)),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Index("ix_consents_contact", "contact_id", "channel", "purpose"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(48), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("value_vnd", BigInteger),
    Column("category", String(80)),
    Column("properties", Json),
    Column("external_id", String(128), comment="idempotency key from the source system"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "external_id", name="uq_events_workspace_external"),
    # Covering indexes: segment counts and the stats rebuild read only the index.
    Index(
        "ix_events_workspace_type_time",
        "workspace_id",
        "type",
        "occurred_at",
        "contact_id",
        "value_vnd",
    ),
    Index(
        "ix_events_contact_type_time",
        "contact_id",
        "type",
        "occurred_at",
        "value_vnd",
        "workspace_id",
    ),
)

# Purchase figures per contact, rebuilt after events change; RFM scores are quintiles 1..5.
contact_stats = Table(
    "contact_stats",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("orders_count", Integer, nullable=False),
    Column("total_spend_vnd", BigInteger, nullable=False),
    Column("first_order_at", UtcDateTime, nullable=False),
    Column("last_order_at", UtcDateTime, nullable=False),
    Column("r_score", SmallInteger, nullable=False),
    Column("f_score", SmallInteger, nullable=False),
    Column("m_score", SmallInteger, nullable=False),
    Index("ix_contact_stats_workspace", "workspace_id"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text),
    Column("rule", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "name", name="uq_segments_workspace_name"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False, default=_now),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), comment="masked: phone numbers never appear whole"),
    Column("details", Json),
    Index("ix_audit_log_workspace_at", "workspace_id", "at"),
)

# --- Composition and compliance (issues 4 and 5) --------------------------------------------

# A registered sender name. Messages under it may link only to its verified https domains.
brandnames = Table(
    "brandnames",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(11), nullable=False),
    Column("domains", Json, nullable=False, comment="verified link domains, e.g. ['shop.vn']"),
    Column("carriers", Json, comment="carriers it is registered with; null means all"),
    Column("registered_on", Date),
    Column("expires_on", Date, comment="registrations last 3 years"),
    Column("optout_keyword", String(16), comment="SMS refusal keyword, e.g. TC"),
    Column("optout_shortcode", String(16), comment="where the keyword is sent"),
    Column("hotline", String(20), comment="refusal by call"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "name", name="uq_brandnames_workspace_name"),
)

message_templates = Table(
    "message_templates",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("class", String(8), nullable=False, comment="qc / cskh / public"),
    Column("otp", Boolean, nullable=False, server_default=text("false")),
    Column("text", Text, nullable=False),
    Column("approved", Boolean, nullable=False, server_default=text("false")),
    Column("approved_carriers", Json, comment="carriers that approved it; null means all"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "name", name="uq_message_templates_workspace_name"),
)

dnc_imports = Table(
    "dnc_imports",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("source", String(200), nullable=False),
    Column("list_date", Date, nullable=False, comment="the date the list was published"),
    Column("numbers", Integer, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False, default=_now),
)

# The national do-not-advertise list (numbers that texted "DK DNC" to 5656).
dnc_numbers = Table(
    "dnc_numbers",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id"), primary_key=True),
    Column("phone", String(20), primary_key=True, comment="E.164"),
    Column("import_id", Id, ForeignKey("dnc_imports.id"), nullable=False),
)

# Refusals received (reply keyword, hotline, API). Kept at least a year; never deleted on erase.
opt_outs = Table(
    "opt_outs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("phone", String(20), nullable=False, comment="E.164"),
    Column("channel", String(8), nullable=False, server_default="sms"),
    Column("scope", String(8), nullable=False, comment="all (every QC) / brand (one brandname)"),
    Column("brandname", String(11)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("source", String(16), nullable=False, comment="sms / webhook / cli / api / hotline"),
    Column("text", Text, comment="the reply as received"),
    Column("confirmation_id", Id, comment="the outbox row confirming it, sent once"),
    Column("revoked_at", UtcDateTime, comment="opted back in (START, or new consent)"),
    Index("ix_opt_outs_workspace_phone", "workspace_id", "phone"),
)

# Lifts a limit the law allows "unless otherwise agreed", for one person.
agreements = Table(
    "agreements",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("rule", String(32), nullable=False, comment="e.g. frequency_cap, quiet_hours"),
    Column("value", Json, comment="the agreed limit, e.g. {'max_per_24h': 5}"),
    Column("evidence", Text, nullable=False),
    Column("given_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Index("ix_agreements_workspace_phone", "workspace_id", "phone"),
)

# The one registration SMS (DKQC…) a number may ever get, and its answer.
registration_requests = Table(
    "registration_requests",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id"), primary_key=True),
    Column("phone", String(20), primary_key=True),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("answer", String(8), comment="accept / refuse; null while unanswered"),
    Column("answered_at", UtcDateTime),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("to", String(20), comment="short code or brandname it was sent to"),
    Column("text", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("provider_id", String(128), comment="the provider's message id, for dedup"),
    Column("intent", String(8), comment="opt_out / opt_in / help / none"),
    Column("handled_at", UtcDateTime),
    UniqueConstraint("workspace_id", "source", "provider_id", name="uq_inbound_provider"),
)

# The outbox: one row per message Loa will send or has decided not to. It is the queue and the
# record of truth; `idempotency_key` (e.g. "c12:4711" = campaign 12, contact 4711) makes
# re-planning and retries find the row they already wrote instead of writing a second one.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("idempotency_key", String(160), nullable=False),
    Column("campaign_id", Id, comment="null for transactional and confirmation messages"),
    Column("contact_id", Id, comment="null when the number is not in the book"),
    Column(
        "phone",
        String(512),
        nullable=False,
        comment="E.164; for email and push the address, FCM token or Web Push subscription",
    ),
    Column("channel", String(8), nullable=False, server_default="sms"),
    Column("class", String(12), nullable=False, comment="qc / cskh / public / confirmation"),
    Column("sender", String(64), comment="brandname, or the From address"),
    Column("variant", String(16)),
    Column(
        "segment",
        String(64),
        comment="the included segment that brought the recipient in (the first that holds them)",
    ),
    Column("text", Text),
    Column("encoding", String(8)),
    Column("parts", SmallInteger),
    Column("carrier", String(16)),
    Column("route", String(64)),
    Column("price_vnd", Integer),
    Column("decision", String(8), nullable=False, comment="send / defer / suppress"),
    Column("reasons", Json, comment="reason codes behind the decision"),
    Column("scheduled_at", UtcDateTime),
    Column(
        "status",
        String(12),
        nullable=False,
        comment="planned / queued / leased / submitting / submitted / delivered / undelivered / "
        "expired / rejected / failed / uncertain / suppressed / cancelled / holdout",
    ),
    Column("attempts", SmallInteger, nullable=False, server_default=text("0")),
    Column(
        "priority",
        SmallInteger,
        nullable=False,
        server_default=text("0"),
        comment="lane: transactional messages (> 0) overtake marketing on the same route",
    ),
    Column("expires_at", UtcDateTime, comment="not sent after this; validity end once sent"),
    Column("code", String(32), comment="the provider's or carrier's error code"),
    Column("lease_until", UtcDateTime),
    Column("leased_by", String(64)),
    Column("provider_id", String(128), comment="the provider's message id"),
    Column("error", Text),
    Column("submitted_at", UtcDateTime),
    Column("done_at", UtcDateTime, comment="delivered, failed, expired or cancelled"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_outbox_workspace_key"),
    Index("ix_outbox_campaign", "campaign_id", "status"),
    Index("ix_outbox_due", "status", "priority", "scheduled_at"),
    # The next three hold only the rows they are read for: a freshly planned message has no
    # provider id, lease or submission time, so planning writes no entry in them.
    Index(
        "ix_outbox_provider",
        "route",
        "provider_id",
        sqlite_where=text("provider_id IS NOT NULL"),
        postgresql_where=text("provider_id IS NOT NULL"),
    ),
    Index(
        "ix_outbox_lease",
        "status",
        "lease_until",
        sqlite_where=text("lease_until IS NOT NULL"),
        postgresql_where=text("lease_until IS NOT NULL"),
    ),
    # Frequency caps read a workspace's recent QC sends per number from this index alone.
    Index(
        "ix_outbox_history",
        "workspace_id",
        "class",
        "submitted_at",
        "phone",
        sqlite_where=text("submitted_at IS NOT NULL"),
        postgresql_where=text("submitted_at IS NOT NULL"),
    ),
)

# Per-recipient short codes for tracked links; the redirect resolves them without a workspace.
short_links = Table(
    "short_links",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("destination", Text, nullable=False, comment="with UTM parameters"),
    Column("campaign_id", Id),
    Column("contact_id", Id),
    Column("outbox_id", Id),
    Column("variant", String(16)),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("expires_at", UtcDateTime),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("batch", String(100), nullable=False, comment="campaign or automation that issued it"),
    Column("campaign_id", Id),
    Column("contact_id", Id),
    Column("value", String(100), comment="what it is worth, as shown to the customer"),
    Column("issued_at", UtcDateTime, nullable=False, default=_now),
    Column("expires_at", UtcDateTime),
    Column("redeemed_at", UtcDateTime),
    Column("redeemed_by", String(200), comment="who redeemed it: shop, till, API key"),
    UniqueConstraint("workspace_id", "code", name="uq_vouchers_workspace_code"),
)

# --- Campaigns (issue 6) ----------------------------------------------------------------------

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("goal", Json, comment="metric and target, e.g. {'metric': 'orders', 'target': 500}"),
    Column("class", String(8), nullable=False, comment="qc / cskh / public"),
    Column("channel", String(8), nullable=False, server_default="sms"),
    Column("sender", String(64), nullable=False),
    Column("audience", Json, nullable=False, comment="{'include': [...], 'exclude': [...]}"),
    Column("variants", Json, nullable=False, comment="[{'name', 'text', 'share_pct'}]"),
    Column("template", String(100), comment="approved template name (customer care)"),
    Column("holdout_pct", SmallInteger, nullable=False, server_default=text("0")),
    Column("schedule", Json, nullable=False, comment="{'mode': 'now'|'at'|'golden', ...}"),
    Column("budget_vnd", BigInteger),
    Column("max_tps", Integer, comment="throughput cap for this campaign"),
    Column("attribution_days", SmallInteger, nullable=False, server_default=text("7")),
    Column("allow_defer", Boolean, nullable=False, server_default=text("true")),
    Column("short_domain", String(100)),
    Column(
        "seed", BigInteger, nullable=False, comment="makes variant and holdout draws repeatable"
    ),
    Column("state", String(12), nullable=False, server_default="draft"),
    Column("plan_summary", Json, comment="the last plan report"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    Column("planned_at", UtcDateTime),
    UniqueConstraint("workspace_id", "name", name="uq_campaigns_workspace_name"),
)

# Every state change, with who and when.
campaign_changes = Table(
    "campaign_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime, nullable=False, default=_now),
    Column("actor", String(200), nullable=False),
    Column("from_state", String(12)),
    Column("to_state", String(12), nullable=False),
    Column("note", Text),
    Index("ix_campaign_changes_campaign", "campaign_id", "at"),
)

# Price per SMS part by carrier and class; rows here override the shipped defaults.
prices = Table(
    "prices",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id"), primary_key=True),
    Column("carrier", String(16), primary_key=True),
    Column("class", String(8), primary_key=True),
    Column("price_vnd", Integer, nullable=False, comment="per part"),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
)

# Where messages leave: one row per provider connection (an SMSC bind, an HTTP API, an SMTP
# relay, a push service). Settings are the channel's own (host, credentials, body mapping …).
routes = Table(
    "routes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False, comment="smpp / http-sms / smtp / fcm / webpush"),
    Column("channel", String(8), nullable=False, server_default="sms"),
    Column("settings", Json, nullable=False),
    Column("carriers", Json, comment="carriers this route serves; null = every carrier"),
    Column("tps", Integer, comment="messages (SMS parts) per second across all workers"),
    Column("window_size", SmallInteger, nullable=False, server_default=text("50")),
    Column("priority", SmallInteger, nullable=False, server_default=text("0")),
    Column("failover", String(64), comment="route to use while this one is down"),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("down_until", UtcDateTime, comment="marked down after repeated connection failures"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "name", name="uq_routes_workspace_name"),
)

# Parts sent per route and second, shared by every worker: the route's TPS holds across them.
route_usage = Table(
    "route_usage",
    metadata,
    Column("route_id", Id, primary_key=True),
    Column("second", BigInteger, primary_key=True, comment="Unix time, whole seconds"),
    Column("sent", Integer, nullable=False),
)

# The ids of the further parts of a long SMS, so their receipts find the message.
outbox_parts = Table(
    "outbox_parts",
    metadata,
    Column("route", String(64), primary_key=True),
    Column("provider_id", String(128), primary_key=True),
    Column("outbox_id", Id, nullable=False),
    Column("part", SmallInteger, nullable=False),
)

# Delivery receipts that matched no message when they came (early, or for a message whose
# fate was uncertain). Kept, reported, and matched later; never dropped.
delivery_receipts = Table(
    "delivery_receipts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("route", String(64), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("state", String(12), nullable=False),
    Column("recipient", String(64)),
    Column("code", String(32)),
    Column("done_at", UtcDateTime),
    Column("raw", Text),
    Column("received_at", UtcDateTime, nullable=False, default=_now),
    Column("outbox_id", Id, comment="the message it was matched to later; null while unmatched"),
    Index("ix_delivery_receipts_match", "route", "provider_id"),
    Index("ix_delivery_receipts_open", "outbox_id", "received_at"),
)

# --- Tracking (issue 8): clicks and attributed orders -------------------------------------

# Every request for a short link, humans and bots alike. Campaign, contact, outbox row and
# variant are copied from short_links when the click is written, so reports need no join.
clicks = Table(
    "clicks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("code", String(16), nullable=False),
    Column("campaign_id", Id),
    Column("contact_id", Id),
    Column("outbox_id", Id),
    Column("variant", String(16)),
    Column("at", UtcDateTime, nullable=False),
    Column("human", Boolean, nullable=False, comment="false: a link preview, scanner or bot"),
    Column("bot", String(32), comment="which kind of bot, when not human"),
    Column("method", String(8), nullable=False, server_default="GET"),
    Column("user_agent", String(512)),
    Column("ip", String(64)),
    Index("ix_clicks_campaign", "campaign_id", "human", "outbox_id", "at"),
    Index("ix_clicks_contact", "workspace_id", "contact_id", "at"),
)

# Each order (a purchase event with a value) credited to at most one message, once. Orders that
# settled without a message are kept too, with campaign_id 0 and model "none".
attributions = Table(
    "attributions",
    metadata,
    Column("event_id", Id, primary_key=True, comment="the order; primary key: credited once"),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("campaign_id", Id, nullable=False),
    Column("outbox_id", Id, nullable=False),
    Column("contact_id", Id, nullable=False),
    Column("variant", String(16)),
    Column("model", String(8), nullable=False, comment="click / view"),
    Column("value_vnd", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False, comment="when the order was placed"),
    Column("touch_at", UtcDateTime, nullable=False, comment="the click or the delivery"),
    Column("attributed_at", UtcDateTime, nullable=False, default=_now),
    Index("ix_attributions_campaign", "campaign_id", "occurred_at"),
)

# --- Accounts and the API (issue 9) ----------------------------------------------------------

# People who sign in; one row per workspace they belong to (the same email may be in several).
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("email", String(254), nullable=False, comment="lower-case"),
    Column("name", String(200)),
    Column("password_hash", String(200), nullable=False, comment="Argon2id"),
    Column("role", String(16), nullable=False, comment="owner/admin/marketer/analyst/developer"),
    Column("lang", String(2), nullable=False, server_default="vi"),
    Column("totp_secret", String(64), comment="base32; set once the user enrolled"),
    Column("failed_logins", SmallInteger, nullable=False, server_default=text("0")),
    Column("locked_until", UtcDateTime),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("last_login_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "email", name="uq_users_workspace_email"),
)

# Dashboard sessions; only a hash of the cookie's token is kept.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True, comment="sha256 hex of the token"),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("ip", String(64)),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_user_sessions_user", "user_id"),
)

# Failed sign-ins by address, for rate limiting across every account tried from it.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ip", String(64), nullable=False),
    Column("email", String(254), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_login_failures_ip_at", "ip", "at"),
)

# API keys: shown once, stored as a sha256 hash (they are long random tokens, not passwords).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False, comment="shown in lists to tell keys apart"),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", Json, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

# Per-workspace security and approval settings; no row means the defaults.
workspace_settings = Table(
    "workspace_settings",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id"), primary_key=True),
    Column("settings", Json, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
)

# Four eyes: a campaign that needs approval waits here until a second person decides.
approvals = Table(
    "approvals",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("reasons", Json, nullable=False),
    Column("planned_at", UtcDateTime, comment="the plan approved; a new plan needs a new approval"),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False, comment="pending / approved / rejected"),
    Column("decided_by", String(200)),
    Column("decided_at", UtcDateTime),
    Column("note", Text),
    Index("ix_approvals_campaign", "campaign_id", "status"),
)

# The first answer to a POST with an Idempotency-Key, replayed to every retry.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", SmallInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
)

# --- Automations (issue 10) ------------------------------------------------------------------

# A rule reacting to an event (or, for `daily:*` events, to the calendar): which message, when,
# on which channels in which order, how often. Timing, conditions and limits are small JSON
# documents read by loa.services.automations.rules.
automations = Table(
    "automations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("event", String(48), nullable=False),
    Column("template", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("class", String(8), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("channels", Json, nullable=False),
    Column("fallback_after_s", Integer),
    Column("timing", Json, nullable=False),
    Column("conditions", Json),
    Column("limit_days", Integer),
    Column("voucher", Json),
    Column("params", Json),
    Column("subject", String(48)),
    Column("priority", SmallInteger, nullable=False, server_default=text("5")),
    Column("state", String(12), nullable=False, server_default="active"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "name", name="uq_automations_workspace_name"),
    Index("ix_automations_workspace_event", "workspace_id", "event"),
)

# One reaction of a rule: to one event, or to one contact on one day. `run_key` makes a rule
# evaluated twice find the run it already made; the outbox row's key is derived from it.
automation_runs = Table(
    "automation_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("automation_id", Id, ForeignKey("automations.id", ondelete="CASCADE"), nullable=False),
    Column("run_key", String(120), nullable=False),
    Column("event_id", Id),
    Column("contact_id", Id),
    Column("subject", String(160)),
    Column("step", SmallInteger, nullable=False, server_default=text("0")),
    Column("outbox_id", Id),
    Column("status", String(12), nullable=False),
    Column("reason", String(64)),
    Column("voucher_code", String(32)),
    Column("watch_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("automation_id", "run_key", name="uq_automation_runs_key"),
    Index("ix_automation_runs_subject", "workspace_id", "subject"),
    Index("ix_automation_runs_contact", "automation_id", "contact_id", "created_at"),
    Index("ix_automation_runs_watch", "watch_until"),
)
