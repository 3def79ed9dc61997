"""The one small interface every provider sits behind.

A channel submits batches of outgoing messages and hands back, through two callbacks, the
delivery reports and inbound messages its provider sends. It knows nothing about the store:
the dispatcher (``loa.services.dispatch``) persists every state change around these calls.

Rules each channel keeps:
- ``submit`` answers every message it was given, in the same order, with one ``Submitted``;
  it raises only for a dead connection (``ChannelDown``), never for one bad message.
- A message is ``accepted`` only once the provider said so and gave its id.
- ``retry`` means the provider did not take it and said why (throttled, queue full, busy):
  sending it again cannot duplicate it. ``failed`` means it never will be taken (bad number,
  bad sender, rejected content); ``code`` names the provider's own error code.
- Receipts may arrive before ``submit`` returns for the message they answer; the dispatcher
  copes with that, so a channel passes every receipt on at once and never drops one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

Outcome = Literal["accepted", "retry", "failed"]
ReceiptState = Literal["delivered", "undelivered", "expired", "rejected", "unknown"]


class ChannelDown(Exception):
    """The connection to the provider is gone. Carries the answers ``submit`` did get, and the
    refs of the messages it never wrote to the connection (safe to send again); every other
    message of the batch may or may not have reached the provider."""

    def __init__(
        self, reason: str, answered: Sequence[Submitted] = (), unsent: Sequence[int] = ()
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.answered = list(answered)
        self.unsent = list(unsent)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    name: str  # "smpp", "http-sms", "smtp", "fcm", "webpush", ...
    kinds: frozenset[str]  # message kinds: "sms", "email", "push"
    max_tps: int | None = None  # what the provider allows per connection, if it says
    window: int = 1  # outstanding requests it keeps in flight


@dataclass(frozen=True, slots=True)
class Outgoing:
    ref: int  # outbox row id: the dispatcher's handle, echoed back in Submitted
    key: str  # idempotency key: providers that deduplicate get it as their request id
    to: str  # E.164 number (+84…), e-mail address, or push token
    text: str
    sender: str | None = None  # brandname / From address
    klass: str = "qc"  # qc / cskh / public / confirmation (HTTP brandname APIs need it)
    encoding: str = "GSM-7"  # GSM-7 / UCS-2, as loa.domain.text names them (SMS only)
    parts: int = 1
    validity: timedelta | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)  # subject, html, push data …


@dataclass(frozen=True, slots=True)
class Submitted:
    ref: int
    outcome: Outcome
    provider_id: str | None = None  # the id of the first (or only) part
    part_ids: tuple[str, ...] = ()  # ids of the further parts of a long SMS, in order
    code: str | None = None  # provider error code, e.g. "0x00000058" or "429"
    error: str | None = None  # the provider's words, or ours, for a person to read
    retry_after: float | None = None  # seconds the provider asked us to wait


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_id: str
    state: ReceiptState
    to: str | None = None  # the recipient, when the provider says (reconciles lost ids)
    code: str | None = None  # the carrier's error code (SMPP "err:")
    done_at: datetime | None = None
    raw: str = ""  # the receipt as it came, kept for the record


@dataclass(frozen=True, slots=True)
class Inbound:
    phone: str  # sender, E.164 where it can be
    text: str
    to: str | None = None  # short code / brandname it was sent to
    provider_id: str | None = None
    received_at: datetime | None = None


ReceiptHandler = Callable[[Receipt], Awaitable[None] | None]
InboundHandler = Callable[[Inbound], Awaitable[None] | None]


class Channel(Protocol):
    info: ChannelInfo

    def on_receipt(self, handler: ReceiptHandler) -> None: ...
    def on_inbound(self, handler: InboundHandler) -> None: ...
    async def open(self) -> None: ...
    async def submit(self, batch: Sequence[Outgoing]) -> list[Submitted]: ...
    async def close(self) -> None: ...
