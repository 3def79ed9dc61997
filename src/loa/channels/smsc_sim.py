"""A sandbox SMSC: an asyncio SMPP v3.4 server that behaves like a carrier's, for demos and tests.

It binds any ESME (or only the configured account), answers submit_sm with a unique message id,
and later sends a delivery receipt per part, like an SMSC does: delivered, undeliverable at the
rate set for the destination's carrier (by prefix), or expired. It can misbehave on purpose:
reject a share of numbers (always the same numbers, so a retry agrees), throttle beyond a TPS,
drop the connection after N submit_sm, send the receipt before the submit_sm_resp, and answer
delivered messages with an MO reply ("TC") from the phone. Receipts for an account with no
receiver bound wait until one binds, and a receipt not acknowledged before a connection drops is
sent again: none is lost.

Every accepted part is journalled (JSONL, flushed before its submit_sm_resp leaves), so a test
can count what each phone would have received. `msg_key` names the message a part belongs to:
destination and UDH reference for a long message, destination and message id otherwise.

`python -m loa.channels.smsc_sim --help` (or `loa smsc-sim`) runs one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import re
import signal
import sys
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from loa.channels.base import ReceiptState
from loa.channels.smpp import pdu as P
from loa.channels.smpp.receipts import MESSAGE_STATE_CODES, format_receipt, receipt_stamp
from loa.data.vietnam import carrier_by_prefix
from loa.i18n import LoaError, Msg, set_lang

log = logging.getLogger("loa.smsc_sim")

ReceiptsAs = Literal["text", "tlv", "both"]
# Carrier error codes in err: for undeliverable messages (GSM MAP causes, as SMSCs report them):
# unknown subscriber, absent subscriber, call barred, SMS delivery failure, subscriber busy.
UNDELIVERED_ERRORS = ("001", "027", "013", "032", "031")
EXPIRED_ERROR = "027"  # the phone stayed off until the validity ran out

REDELIVER_AFTER_S = 1.0  # after an ESME answers a deliver_sm with an error

_Item = tuple[bool, bytes]  # (is a receipt, the deliver_sm body)
_UNPRINTABLE = re.compile(r"[^ -~]")  # a receipt's text: printable ASCII only


@dataclass
class SmscConfig:
    """How the sandbox behaves. Rates are probabilities in [0, 1]."""

    host: str = "127.0.0.1"
    port: int = 2775  # 0: a free port
    system_id: str | None = None  # None: any account may bind
    password: str | None = None
    receipt_delay: tuple[float, float] = (0.05, 0.5)  # seconds, uniform
    failure_rates: dict[str, float] = field(default_factory=dict)  # carrier (or "*") -> UNDELIV
    expire_rate: float = 0.0
    reject_rate: float = 0.0  # share of numbers answered ESME_RINVDSTADR
    throttle_tps: float | None = None  # per account; beyond it ESME_RTHROTTLED
    disconnect_after: int | None = None  # drop the connection after N submit_sm in total
    disconnect_every: bool = False  # ... every N, not only once
    idle_timeout_s: float | None = None  # drop a bind that sends nothing for this long
    receipt_before_resp: bool = False
    receipts_as: ReceiptsAs = "text"
    replies: dict[str, str] = field(default_factory=dict)  # phone -> MO text once delivered
    journal: Path | None = None
    seed: int | None = None


@dataclass
class SmscStats:
    binds: int = 0
    bound: int = 0
    submit_sm: int = 0
    accepted: int = 0
    rejected: int = 0
    throttled: int = 0
    receipts: int = 0
    acked: int = 0
    refused: int = 0  # deliver_sm answered with an error, sent again later
    mo: int = 0
    enquire_links: int = 0
    disconnects: int = 0
    states: dict[str, int] = field(default_factory=dict)


@functools.lru_cache(maxsize=4096)
def _carrier(prefix: str) -> str | None:
    return carrier_by_prefix(prefix)


def carrier_of(number: str) -> str | None:
    """The original carrier of a destination number (84…, +84… or 0…), by its prefix."""
    digits = number.lstrip("+")
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    return _carrier(digits[:4]) if digits.startswith("0") else None


def _chance(seed: int, salt: str, key: str) -> float:
    """A number in [0, 1) fixed by (seed, salt, key): the same number always draws the same."""
    return zlib.crc32(f"{seed}:{salt}:{key}".encode()) / 4294967296.0


def _encode_mo(text: str) -> tuple[int, bytes]:
    try:
        return P.DC_DEFAULT, P.gsm7_encode(text)
    except ValueError:
        return P.DC_UCS2, text.encode("utf-16-be")


class _Session(asyncio.Protocol):
    """One ESME connection."""

    def __init__(self, sim: SmscSim) -> None:
        self.sim = sim
        self.reader = P.PduReader()
        self.transport: asyncio.Transport | None = None
        self.mode: int | None = None  # the bind command, once bound
        self.system_id = ""
        self.out: list[bytes] = []
        self.seq = 0
        self.unacked: dict[int, _Item] = {}  # deliver_sm sent, awaiting its resp
        self.flush_scheduled = False
        self.last_rx = time.monotonic()
        self.idle_timer: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def receives(self) -> bool:
        return self.mode in (P.BIND_RECEIVER, P.BIND_TRANSCEIVER) and not self.closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sim._sessions.add(self)
        if self.sim.config.idle_timeout_s:
            self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        sim = self.sim
        sim._sessions.discard(self)
        if self.mode is not None:
            sim.stats.bound -= 1
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.unacked:
            # Receipts the ESME never acknowledged go out again on its next bind.
            sim._queue(self.system_id, list(self.unacked.values()))
            self.unacked.clear()

    def _arm_idle(self) -> None:
        timeout = self.sim.config.idle_timeout_s
        assert timeout
        self.idle_timer = asyncio.get_running_loop().call_later(timeout / 4, self._idle_check)

    def _idle_check(self) -> None:
        timeout = self.sim.config.idle_timeout_s
        if self.closed or self.transport is None or not timeout:
            return
        if time.monotonic() - self.last_rx > timeout:
            self.sim.stats.disconnects += 1
            self.transport.close()
            return
        self._arm_idle()

    # --- writing ---

    def send(self, data: bytes) -> None:
        """Queue bytes for the next flush (at the end of this loop iteration)."""
        self.out.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def deliver(self, item: _Item) -> None:
        """Send a deliver_sm (receipt or MO), remembered until the ESME acknowledges it."""
        self.seq = self.seq + 1 if self.seq < 0x7FFFFFFF else 1
        self.unacked[self.seq] = item
        self.send(P.pdu(P.DELIVER_SM, self.seq, item[1]))
        if item[0]:
            self.sim.stats.receipts += 1
        else:
            self.sim.stats.mo += 1

    # --- reading ---

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        sim = self.sim
        sim.clock()
        try:
            pdus = self.reader.feed(data)
        except P.PduError as exc:
            log.warning("unreadable stream from an ESME: %s", exc)
            self.send(P.pdu(P.GENERIC_NACK, 0, status=exc.status))
            self.flush()
            assert self.transport is not None
            self.transport.close()
            return
        out = self.out
        for command_id, status, seq, body in pdus:
            if command_id == P.SUBMIT_SM:
                if sim.stats.submit_sm == sim._next_drop:
                    sim._dropped()
                    self._drop()
                    return
                out.append(sim._submit(self, seq, body))
            elif command_id == P.DELIVER_SM_RESP:
                item = self.unacked.pop(seq, None)
                if item is not None and status == P.ESME_ROK:
                    sim.stats.acked += 1
                elif item is not None:  # the ESME could not take it now: again in a second
                    sim.stats.refused += 1
                    loop = asyncio.get_running_loop()
                    loop.call_later(REDELIVER_AFTER_S, sim._queue, self.system_id, [item])
            elif command_id == P.ENQUIRE_LINK:
                sim.stats.enquire_links += 1
                out.append(P.pdu(P.ENQUIRE_LINK_RESP, seq))
            elif command_id in P.BINDS:
                out.append(self._bind(command_id, seq, body))
            elif command_id == P.UNBIND:
                out.append(P.pdu(P.UNBIND_RESP, seq))
                self.flush()
                assert self.transport is not None
                self.transport.close()
                return
            elif command_id & P.RESPONSE_BIT:
                pass  # enquire_link_resp, unbind_resp, generic_nack: nothing to do
            else:
                out.append(P.pdu(P.GENERIC_NACK, seq, status=P.ESME_RINVCMDID))
        sim._flush_journal()
        self.flush()

    def _drop(self) -> None:
        self.sim._flush_journal()
        self.flush()
        self.sim.stats.disconnects += 1
        assert self.transport is not None
        self.transport.close()

    def _bind(self, command_id: int, seq: int, body: bytes) -> bytes:
        sim = self.sim
        resp = command_id | P.RESPONSE_BIT
        if self.mode is not None:
            return P.pdu(resp, seq, status=P.ESME_RALYBND)
        try:
            bind = P.decode_bind(body)
        except (P.PduError, IndexError):
            return P.pdu(resp, seq, status=P.ESME_RINVCMDLEN)
        config = sim.config
        if config.system_id is not None and bind.system_id != config.system_id:
            return P.pdu(resp, seq, status=P.ESME_RINVSYSID)
        if config.password is not None and bind.password != config.password:
            return P.pdu(resp, seq, status=P.ESME_RINVPASWD)
        self.mode = command_id
        self.system_id = bind.system_id
        sim.stats.binds += 1
        sim.stats.bound += 1
        answer = P.pdu(resp, seq, P.message_id_body("loa-sandbox"))
        if self.receives:
            asyncio.get_running_loop().call_soon(sim._drain, self.system_id)
        return answer


class SmscSim:
    """The sandbox SMSC. `await start()` returns the port it listens on; `await stop()`."""

    def __init__(self, config: SmscConfig | None = None) -> None:
        self.config = config or SmscConfig()
        self.stats = SmscStats()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._waiting: dict[str, deque[_Item]] = {}  # deliver_sm with no receiver yet
        self._buckets: dict[str, tuple[float, float]] = {}  # account -> (tokens, at)
        self._rng = random.Random(self.config.seed)
        self._seed = self.config.seed or 0
        self._id_prefix = f"{int(time.time() * 1000):x}{os.getpid() & 0xFFFF:04x}"
        self._ids = 0
        self._journal: IO[str] | None = None
        self._lines: list[str] = []
        self._next_drop = self.config.disconnect_after
        self._at = ""  # the time, as the journal writes it
        self._stamp = ""  # and as a receipt writes it
        self.clock()

    def clock(self) -> None:
        """Read the time once for a whole batch of PDUs: every part in it shares the stamp."""
        now = datetime.now(UTC)
        self._at = now.isoformat(timespec="milliseconds")
        self._stamp = receipt_stamp(now)

    async def start(self) -> int:
        """Listen; the bound port."""
        if self.config.journal is not None:
            self._journal = open(self.config.journal, "a", encoding="utf-8")  # noqa: SIM115
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Session(self), self.config.host, self.config.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening, close every connection, flush the journal."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.flush()
            if session.transport is not None:
                session.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        # Let the transports finish closing before the loop goes away.
        for _ in range(3):
            await asyncio.sleep(0)
        self._flush_journal()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def summary(self) -> str:
        """One line of counters."""
        s = self.stats
        states = " ".join(f"{k}={v}" for k, v in sorted(s.states.items()))
        return (
            f"binds={s.bound}/{s.binds} submit_sm={s.submit_sm} accepted={s.accepted} "
            f"rejected={s.rejected} throttled={s.throttled} receipts={s.receipts} mo={s.mo} "
            f"acked={s.acked} {states}"
        ).rstrip()

    async def send_mo(
        self, phone: str, text: str, to: str = "", *, system_id: str | None = None
    ) -> None:
        """An inbound message from `phone` to `to`, to the bound account (or `system_id`)."""
        account = system_id
        if account is None:
            bound = [s for s in self._sessions if s.receives]
            account = bound[0].system_id if bound else (self.config.system_id or "")
        self._queue(account, [(False, self._mo_body(phone, text, to))])

    # --- submit_sm ---

    def _dropped(self) -> None:
        # The submit_sm that found the limit reached is left unanswered and unjournalled.
        limit = self.config.disconnect_after
        self._next_drop = (
            self.stats.submit_sm + limit if limit and self.config.disconnect_every else None
        )

    def _throttled(self, account: str) -> bool:
        tps = self.config.throttle_tps
        if not tps:
            return False
        now = time.monotonic()
        tokens, at = self._buckets.get(account, (tps, now))
        tokens = min(tps, tokens + (now - at) * tps)
        if tokens < 1.0:
            self._buckets[account] = (tokens, now)
            return True
        self._buckets[account] = (tokens - 1.0, now)
        return False

    def _submit(self, session: _Session, seq: int, body: bytes) -> bytes:
        stats = self.stats
        stats.submit_sm += 1
        if session.mode not in (P.BIND_TRANSMITTER, P.BIND_TRANSCEIVER):
            return P.pdu(P.SUBMIT_SM_RESP, seq, status=P.ESME_RINVBNDSTS)
        try:
            sm = P.decode_short_message(body)
        except (P.PduError, IndexError):
            return P.pdu(P.SUBMIT_SM_RESP, seq, status=P.ESME_RINVCMDLEN)
        dest = sm.destination_addr
        if not dest.isdigit():
            stats.rejected += 1
            return P.pdu(P.SUBMIT_SM_RESP, seq, status=P.ESME_RINVDSTADR)
        if self._throttled(session.system_id):
            stats.throttled += 1
            return P.pdu(P.SUBMIT_SM_RESP, seq, status=P.ESME_RTHROTTLED)
        config = self.config
        if config.reject_rate and _chance(self._seed, "reject", dest) < config.reject_rate:
            stats.rejected += 1
            return P.pdu(P.SUBMIT_SM_RESP, seq, status=P.ESME_RINVDSTADR)
        self._ids += 1
        message_id = f"{self._id_prefix}{self._ids:08x}"
        stats.accepted += 1
        data = sm.content()
        ref = part = total = None
        if sm.esm_class & P.ESM_UDHI and sm.short_message:
            udh, data = P.split_udh(data)
            concat = P.concat_info(udh)
            if concat is not None:
                ref, total, part = concat
        text = P.decode_text(data, sm.data_coding)
        key = f"{dest}#ref{ref}" if ref is not None else f"{dest}#{message_id}"
        if self._journal is not None:
            self._lines.append(
                json.dumps(
                    {
                        "message_id": message_id,
                        "system_id": session.system_id,
                        "dest": dest,
                        "source": sm.source_addr,
                        "text": text,
                        "data_coding": sm.data_coding,
                        "ref": ref,
                        "part": part,
                        "total": total,
                        "msg_key": key,
                        "at": self._at,
                    },
                    ensure_ascii=False,
                )
            )
        resp = P.pdu(P.SUBMIT_SM_RESP, seq, P.message_id_body(message_id))
        if not sm.registered_delivery & 0x03:
            return resp
        state, err = self._fate(dest, key)
        receipt = self._receipt_body(sm, message_id, state, err, text)
        mo = None
        if state == "delivered" and (part is None or part == total):
            reply = config.replies.get(dest) or config.replies.get("+" + dest)
            if reply:
                mo = self._mo_body(dest, reply, sm.source_addr)
        if config.receipt_before_resp:
            self._send_later(0.0, session.system_id, receipt, mo, session)
            return resp
        low, high = config.receipt_delay
        delay = low if high <= low else self._rng.uniform(low, high)
        self._send_later(delay, session.system_id, receipt, mo, session)
        return resp

    def _fate(self, dest: str, key: str) -> tuple[ReceiptState, str]:
        config = self.config
        rates = config.failure_rates
        if rates:
            carrier = carrier_of(dest) or "*"
            rate = rates.get(carrier, rates.get("*", 0.0))
            if rate and _chance(self._seed, "fail", key) < rate:
                pick = int(_chance(self._seed, "err", key) * len(UNDELIVERED_ERRORS))
                return "undelivered", UNDELIVERED_ERRORS[pick]
        if config.expire_rate and _chance(self._seed, "expire", key) < config.expire_rate:
            return "expired", EXPIRED_ERROR
        return "delivered", "000"

    def _receipt_body(
        self,
        sm: P.ShortMessage,
        message_id: str,
        state: ReceiptState,
        err: str,
        text: str,
    ) -> bytes:
        self.stats.states[state] = self.stats.states.get(state, 0) + 1
        receipt = P.ShortMessage(
            source_ton=sm.dest_ton,
            source_npi=sm.dest_npi,
            source_addr=sm.destination_addr,
            dest_ton=sm.source_ton,
            dest_npi=sm.source_npi,
            destination_addr=sm.source_addr,
            esm_class=P.ESM_DELIVERY_RECEIPT,
        )
        how = self.config.receipts_as
        if how in ("text", "both"):
            plain = _UNPRINTABLE.sub("?", text[:20])
            stamp = self._stamp
            receipt.short_message = format_receipt(
                message_id, state, err, stamp, stamp, plain
            ).encode("ascii")
        if how in ("tlv", "both"):
            receipt.tlvs = {
                P.TAG_RECEIPTED_MESSAGE_ID: message_id.encode("ascii") + b"\0",
                P.TAG_MESSAGE_STATE: bytes((MESSAGE_STATE_CODES[state],)),
                P.TAG_NETWORK_ERROR_CODE: bytes((3,)) + int(err).to_bytes(2, "big"),
            }
        return P.short_message_body(receipt)

    def _mo_body(self, phone: str, text: str, to: str) -> bytes:
        data_coding, data = _encode_mo(text)
        digits = phone.lstrip("+")
        if digits.startswith("0"):  # a national number: 0912… is 84912…
            digits = "84" + digits[1:]
        mo = P.ShortMessage(
            source_ton=1,
            source_npi=1,
            source_addr=digits,
            dest_ton=5 if to and not to.isdigit() else 1,
            dest_npi=0 if to and not to.isdigit() else 1,
            destination_addr=to,
            data_coding=data_coding,
        )
        if len(data) > 254:
            mo.tlvs = {P.TAG_MESSAGE_PAYLOAD: data}
        else:
            mo.short_message = data
        return P.short_message_body(mo)

    # --- delivering receipts and MO ---

    def _send_later(
        self, delay: float, account: str, receipt: bytes, mo: bytes | None, origin: _Session
    ) -> None:
        items: list[_Item] = [(True, receipt)] if mo is None else [(True, receipt), (False, mo)]
        if delay <= 0:
            self._deliver(account, items, origin)
        else:
            asyncio.get_running_loop().call_later(delay, self._deliver, account, items, origin)

    def _deliver(self, account: str, items: list[_Item], origin: _Session | None) -> None:
        alive = origin is not None and origin.receives and not origin.closed
        session = origin if alive else self._receiver(account)
        if session is None:
            self._queue(account, items)
            return
        for item in items:
            session.deliver(item)

    def _receiver(self, account: str) -> _Session | None:
        for session in self._sessions:
            if session.receives and session.system_id == account:
                return session
        return None

    def _queue(self, account: str, items: list[_Item]) -> None:
        session = self._receiver(account)
        if session is not None:
            for item in items:
                session.deliver(item)
            return
        self._waiting.setdefault(account, deque()).extend(items)

    def _drain(self, account: str) -> None:
        waiting = self._waiting.pop(account, None)
        if waiting:
            self._queue(account, list(waiting))

    # --- journal ---

    def _flush_journal(self) -> None:
        if self._lines and self._journal is not None:
            self._journal.write("\n".join(self._lines) + "\n")
            self._journal.flush()
        self._lines.clear()


async def serve(config: SmscConfig, port_file: Path | None = None) -> SmscSim:
    """Start a sandbox and write its port to `port_file` (atomically) when listening."""
    sim = SmscSim(config)
    port = await sim.start()
    if port_file is not None:
        scratch = port_file.with_name(port_file.name + ".tmp")
        scratch.write_text(str(port))
        scratch.replace(port_file)
    return sim


# --- running it from a terminal (`loa smsc-sim`, `python -m loa.channels.smsc_sim`) -------------

LISTENING = Msg(
    "smsc.listening",
    "SMSC giả lập đang nghe tại {host}:{port} (Ctrl-C để dừng).",
    "Sandbox SMSC listening on {host}:{port} (Ctrl-C to stop).",
)
STATS = Msg(
    "smsc.stats",
    "SMSC giả lập: {bound} kết nối, {accepted}/{submit_sm} tin nhận, {rejected} từ chối, "
    "{throttled} vượt TPS; gửi {receipts} báo cáo và {mo} tin đến, {acked} đã xác nhận; {states}",
    "Sandbox SMSC: {bound} bound, {accepted}/{submit_sm} accepted, {rejected} rejected, "
    "{throttled} throttled; sent {receipts} receipts and {mo} MO, {acked} acknowledged; {states}",
)
STOPPED = Msg("smsc.stopped", "SMSC giả lập đã dừng.", "Sandbox SMSC stopped.")
BAD_PAIR = Msg(
    "smsc.bad_pair",
    "Tuỳ chọn {option} cần dạng KHOÁ=GIÁ_TRỊ, ví dụ {example}; nhận được '{value}'.",
    "Option {option} takes KEY=VALUE, e.g. {example}; got '{value}'.",
)
BAD_RATE = Msg(
    "smsc.bad_rate",
    "Tỷ lệ {option} phải là số từ 0 đến 1, ví dụ 0.05; nhận được '{value}'.",
    "The rate {option} must be a number from 0 to 1, e.g. 0.05; got '{value}'.",
)
BAD_RECEIPTS_AS = Msg(
    "smsc.bad_receipts_as",
    "--receipts-as chỉ nhận text, tlv hoặc both; nhận được '{value}'.",
    "--receipts-as takes text, tlv or both; got '{value}'.",
)


def _pairs(option: str, values: Sequence[str], example: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise LoaError(BAD_PAIR, option=option, example=example, value=value)
        out[key.strip()] = rest
    return out


def _rate(option: str, value: str | float) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise LoaError(BAD_RATE, option=option, value=value) from None
    if not 0.0 <= rate <= 1.0:
        raise LoaError(BAD_RATE, option=option, value=value)
    return rate


def build_config(
    *,
    host: str = "127.0.0.1",
    port: int = 2775,
    journal: Path | None = None,
    system_id: str | None = None,
    password: str | None = None,
    receipt_delay: tuple[float, float] = (0.05, 0.5),
    fail: Sequence[str] = (),
    expire_rate: float = 0.0,
    reject_rate: float = 0.0,
    throttle_tps: float | None = None,
    disconnect_after: int | None = None,
    disconnect_every: bool = False,
    idle_timeout: float | None = None,
    receipt_before_resp: bool = False,
    receipts_as: str = "text",
    reply: Sequence[str] = (),
    seed: int | None = None,
) -> SmscConfig:
    """The config from command-line values (CARRIER=RATE and PHONE=TEXT pairs), checked."""
    if receipts_as not in ("text", "tlv", "both"):
        raise LoaError(BAD_RECEIPTS_AS, value=receipts_as)
    failures = _pairs("--fail", fail, "Viettel=0.1")
    replies = _pairs("--reply", reply, "84901234567=TC")
    return SmscConfig(
        host=host,
        port=port,
        system_id=system_id,
        password=password,
        receipt_delay=receipt_delay,
        failure_rates={k: _rate(f"--fail {k}", v) for k, v in failures.items()},
        expire_rate=_rate("--expire-rate", expire_rate),
        reject_rate=_rate("--reject-rate", reject_rate),
        throttle_tps=throttle_tps,
        disconnect_after=disconnect_after,
        disconnect_every=disconnect_every,
        idle_timeout_s=idle_timeout,
        receipt_before_resp=receipt_before_resp,
        receipts_as=receipts_as,  # type: ignore[arg-type]
        replies={k.lstrip("+"): v for k, v in replies.items()},
        journal=journal,
        seed=seed,
    )


def stats_line(sim: SmscSim) -> str:
    """The one-line summary printed every few seconds."""
    s = sim.stats
    states = ", ".join(f"{k} {v}" for k, v in sorted(s.states.items())) or "-"
    return STATS.render(
        bound=s.bound,
        accepted=s.accepted,
        submit_sm=s.submit_sm,
        rejected=s.rejected,
        throttled=s.throttled,
        receipts=s.receipts,
        acked=s.acked,
        mo=s.mo,
        states=states,
    )


async def run(
    config: SmscConfig,
    *,
    port_file: Path | None = None,
    quiet: bool = False,
    stats_every_s: float = 5.0,
) -> None:
    """Serve until SIGINT or SIGTERM, printing a stats line when it changes, then stop cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = await serve(config, port_file)
    print(LISTENING.render(host=config.host, port=sim.port), flush=True)
    last = ""
    while not stop.is_set():
        try:
            async with asyncio.timeout(stats_every_s):
                await stop.wait()
        except TimeoutError:
            line = stats_line(sim)
            if not quiet and line != last:
                print(line, flush=True)
                last = line
    await sim.stop()
    if not quiet:
        print(stats_line(sim), flush=True)
        print(STOPPED.render(), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m loa.channels.smsc_sim`: the options of `loa smsc-sim`, without loading the CLI."""
    import argparse

    set_lang("en" if os.environ.get("LOA_LANG") == "en" else "vi")
    parser = argparse.ArgumentParser(
        prog="python -m loa.channels.smsc_sim",
        description="SMSC giả lập cho thử nghiệm và demo. / A sandbox SMSC for demos and tests.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=2775, help="0 = a free port")
    add("--port-file", type=Path)
    add("--journal", type=Path)
    add("--quiet", "-q", action="store_true")
    add("--system-id")
    add("--password")
    add("--receipt-delay", type=float, nargs=2, default=(0.05, 0.5), metavar=("MIN", "MAX"))
    add("--fail", action="append", default=[], metavar="CARRIER=RATE")
    add("--expire-rate", type=float, default=0.0)
    add("--reject-rate", type=float, default=0.0)
    add("--throttle-tps", type=float)
    add("--disconnect-after", type=int)
    add("--disconnect-every", action="store_true")
    add("--idle-timeout", type=float)
    add("--receipt-before-resp", action="store_true")
    add("--receipts-as", default="text", choices=("text", "tlv", "both"))
    add("--reply", action="append", default=[], metavar="PHONE=TEXT")
    add("--seed", type=int)
    add("--stats-every", type=float, default=5.0)
    args = vars(parser.parse_args(argv))
    port_file, quiet, stats_every = (
        args.pop("port_file"),
        args.pop("quiet"),
        args.pop("stats_every"),
    )
    args["receipt_delay"] = tuple(args["receipt_delay"])
    try:
        config = build_config(**args)
    except LoaError as exc:
        print(f"✗ {exc.render()}", file=sys.stderr)
        return 2
    asyncio.run(run(config, port_file=port_file, quiet=quiet, stats_every_s=stats_every))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
