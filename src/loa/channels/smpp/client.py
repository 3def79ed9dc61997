"""`SmppChannel`: an SMPP v3.4 ESME over asyncio, with a window of outstanding submit_sm.

Why not smpplib: the dispatcher must pass >= 3,000 messages/s per worker while it persists every
state, and a carrier's round trip is tens of milliseconds. That takes a window of submit_sm in
flight on one connection, answered by sequence number, inside the worker's event loop. smpplib is
synchronous (a thread per bind, one PDU at a time, no window), so the PDU layer is our own
(`loa.channels.smpp.pdu`) and this module drives it from an `asyncio.Protocol`: PDUs are
written in batches, one `write` per window, and responses are matched in `data_received`.

`python -m loa.channels.smpp.client --bench N [HOST:PORT]` measures raw submit_sm/s against a
running SMSC, or against a sandbox SMSC it starts in a second process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from loa.channels.base import (
    ChannelDown,
    ChannelInfo,
    Inbound,
    InboundHandler,
    Outgoing,
    Receipt,
    ReceiptHandler,
    Submitted,
)
from loa.channels.smpp import pdu as P
from loa.channels.smpp.receipts import is_receipt, parse_receipt
from loa.i18n import LoaError, Msg

log = logging.getLogger("loa.smpp")

BindMode = Literal["transceiver", "pair", "transmitter"]

# Statuses after which sending again cannot duplicate the message: the SMSC did not take it and
# says it is busy. The value is the wait it implies, when it implies one.
TRANSIENT: dict[int, float | None] = {
    P.ESME_RTHROTTLED: 1.0,
    P.ESME_RMSGQFUL: 5.0,
    P.ESME_RSYSERR: None,
    P.ESME_RX_T_APPN: None,
    P.ESME_RINVBNDSTS: None,  # the bind is being torn down; the next one will do
}

# The longest submit() waits for a reconnection before it answers ChannelDown.
SUBMIT_MAX_WAIT_S = 1.0

CONNECT_FAILED = Msg(
    "smpp.connect_failed",
    "Không kết nối được SMSC {host}:{port}: {error}. Kiểm tra địa chỉ, cổng và tường lửa.",
    "Cannot connect to the SMSC at {host}:{port}: {error}. Check the host, the port and the "
    "firewall.",
)
BIND_REFUSED = Msg(
    "smpp.bind_refused",
    "SMSC {host}:{port} từ chối đăng nhập '{system_id}': {status}. Kiểm tra system_id và mật khẩu "
    "nhà mạng cấp.",
    "The SMSC at {host}:{port} refused the bind of '{system_id}': {status}. Check the system_id "
    "and password the carrier gave you.",
)
RECONNECTING = Msg(
    "smpp.reconnecting",
    "Mất kết nối SMSC {host}:{port}; sẽ thử kết nối lại sau {seconds:.1f} giây.",
    "Lost the SMSC at {host}:{port}; reconnecting in {seconds:.1f} s.",
)
BAD_SETTING = Msg(
    "smpp.bad_setting",
    "Cấu hình SMPP sai: {field} = {value!r}. {fix}",
    "Bad SMPP setting: {field} = {value!r}. {fix}",
)


class _Lost(Exception):
    """The link went away under a waiting coroutine."""


class _Bucket:
    """A token bucket pacing submit_sm to `rate` per second, with a 50 ms burst."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * 0.05)
        self.tokens = self.capacity
        self.at = time.monotonic()

    def take(self) -> float:
        """Take a token; the seconds to wait before using it (0 when there was one)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class _Batch:
    """The answers to one submit(): per message, per part, the status and the message id."""

    __slots__ = ("ids", "left", "remaining", "statuses")

    def __init__(self, parts: Sequence[int]) -> None:
        self.statuses: list[list[int]] = [[-1] * n for n in parts]
        self.ids: list[list[str]] = [[""] * n for n in parts]
        self.left = list(parts)  # parts still unanswered, per message
        self.remaining = sum(parts)

    def answer(self, message: int, part: int, status: int, message_id: str) -> None:
        self.statuses[message][part] = status
        self.ids[message][part] = message_id
        self.left[message] -= 1
        self.remaining -= 1


class _Link(asyncio.Protocol):
    """One bound TCP connection to the SMSC."""

    def __init__(self, channel: SmppChannel, name: str) -> None:
        self.channel = channel
        self.name = name
        self.loop = asyncio.get_running_loop()
        self.reader = P.PduReader()
        self.transport: asyncio.Transport | None = None
        self.seq = 0
        self.submits: dict[int, tuple[_Batch, int, int]] = {}
        self.requests: dict[int, asyncio.Future[tuple[int, int, bytes]]] = {}
        self.out: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.alive = False  # bound and not lost
        self.lost_reason: str | None = None
        self.gone: asyncio.Future[None] = self.loop.create_future()
        self.last_tx = self.last_rx = time.monotonic()
        self.enquire_seq: int | None = None
        self.timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.lost_reason is None:
            self.lost_reason = (
                f"connection lost: {exc}" if exc else "the SMSC closed the connection"
            )
        if self.timer is not None:
            self.timer.cancel()
        for future in self.requests.values():
            if not future.done():
                future.set_exception(_Lost(self.lost_reason))
        self.requests.clear()
        self._wake()
        if not self.gone.done():
            self.gone.set_result(None)
        self.channel._link_lost(self)

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        try:
            pdus = self.reader.feed(data)
        except P.PduError as exc:
            self.abort(f"unreadable stream from the SMSC: {exc}")
            return
        answered = False
        for command_id, status, seq, body in pdus:
            if command_id == P.SUBMIT_SM_RESP or (
                command_id == P.GENERIC_NACK and seq in self.submits
            ):
                entry = self.submits.pop(seq, None)
                if entry is not None:
                    batch, message, part = entry
                    if command_id == P.GENERIC_NACK and status == P.ESME_ROK:
                        status = P.ESME_RSYSERR
                    message_id = P.decode_message_id(body) if status == P.ESME_ROK else ""
                    batch.answer(message, part, status, message_id)
                    answered = True
            elif command_id == P.DELIVER_SM:
                handled = self.channel._deliver(body)
                if isinstance(handled, bool):
                    self.out.append(_deliver_sm_resp(seq, handled))
                else:
                    handled.add_done_callback(functools.partial(self._acknowledge, seq))
            elif command_id == P.ENQUIRE_LINK:
                self.out.append(P.pdu(P.ENQUIRE_LINK_RESP, seq))
            elif command_id == P.UNBIND:
                self.out.append(P.pdu(P.UNBIND_RESP, seq))
                self.lost_reason = "the SMSC unbound"
                self.alive = False
                self.flush()
                if self.transport is not None:
                    self.transport.close()
                return
            elif command_id & P.RESPONSE_BIT:
                if seq == self.enquire_seq:
                    self.enquire_seq = None
                future = self.requests.pop(seq, None)
                if future is not None and not future.done():
                    future.set_result((command_id, status, body))
            else:
                self.out.append(P.pdu(P.GENERIC_NACK, seq, status=P.ESME_RINVCMDID))
        self.flush()
        if answered:
            self._wake()

    def _acknowledge(self, seq: int, task: asyncio.Future[Any]) -> None:
        """Answer a deliver_sm once its async handler is done: an error asks for it again."""
        if self.alive:
            ok = not task.cancelled() and task.exception() is None
            self.out.append(_deliver_sm_resp(seq, ok))
            self.flush()

    # --- writing ---

    def next_seq(self) -> int:
        self.seq = self.seq + 1 if self.seq < 0x7FFFFFFF else 1
        return self.seq

    def flush(self) -> bool:
        """Hand the queued PDUs to the socket; False when it is closing and they are dropped."""
        sent = self.transport is not None and not self.transport.is_closing()
        if self.out and sent:
            assert self.transport is not None
            self.transport.write(b"".join(self.out))
            self.last_tx = time.monotonic()
        self.out.clear()
        return sent

    async def request(self, command_id: int, body: bytes, timeout_s: float) -> tuple[int, bytes]:
        """Send a request and wait for its response: (status, body)."""
        seq = self.next_seq()
        future: asyncio.Future[tuple[int, int, bytes]] = self.loop.create_future()
        self.requests[seq] = future
        self.out.append(P.pdu(command_id, seq, body))
        self.flush()
        try:
            async with asyncio.timeout(timeout_s):
                response_id, status, response = await future
        finally:
            self.requests.pop(seq, None)
        if response_id == P.GENERIC_NACK and status == P.ESME_ROK:
            status = P.ESME_RINVCMDID
        return status, response

    # --- waiting ---

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self, timeout_s: float) -> None:
        """Until a response arrives (or the link is lost, which raises _Lost)."""
        if not self.alive:
            raise _Lost(self.lost_reason or "not connected")
        self.waiter = self.loop.create_future()
        try:
            async with asyncio.timeout(timeout_s):
                await self.waiter
        except TimeoutError:
            self.abort(f"no answer from the SMSC for {timeout_s:g} s")
            raise _Lost(self.lost_reason or "timeout") from None
        finally:
            self.waiter = None
        if not self.alive:
            raise _Lost(self.lost_reason or "not connected")

    # --- keeping the link ---

    def start_keepalive(self, every_s: float, dead_after_s: float) -> None:
        self.timer = self.loop.call_later(every_s, self._tick, every_s, dead_after_s)

    def _tick(self, every_s: float, dead_after_s: float) -> None:
        """Send an enquire_link when the link has been quiet; drop it when the SMSC has said
        nothing, not even to an enquire_link, for `dead_after_s`."""
        if not self.alive or self.transport is None:
            return
        now = time.monotonic()
        if self.enquire_seq is not None and now - self.last_rx >= dead_after_s:
            self.abort(f"no answer to enquire_link for {dead_after_s:g} s")
            return
        if now - self.last_tx >= every_s / 2 or self.enquire_seq is None:
            self.enquire_seq = self.next_seq()
            self.out.append(P.pdu(P.ENQUIRE_LINK, self.enquire_seq))
            self.flush()
        self.timer = self.loop.call_later(every_s, self._tick, every_s, dead_after_s)

    def abort(self, reason: str) -> None:
        self.lost_reason = reason
        self.alive = False
        if self.transport is not None:
            self.transport.abort()


def _deliver_sm_resp(seq: int, ok: bool) -> bytes:
    # A temporary error makes the SMSC deliver it again later: nothing a handler failed on is lost.
    if ok:
        return P.pdu(P.DELIVER_SM_RESP, seq, b"\0")
    return P.pdu(P.DELIVER_SM_RESP, seq, status=P.ESME_RX_T_APPN)


def _phone(addr: str, ton: int) -> str:
    """A sender's address as E.164 where it can be: international TON, or a VN number."""
    digits = addr[1:] if addr.startswith("+") else addr
    if not digits.isdigit():
        return addr
    if addr.startswith("+") or ton == 1 or (digits.startswith("84") and len(digits) in (11, 12)):
        return "+" + digits
    if digits.startswith("0") and len(digits) == 10:
        return "+84" + digits[1:]
    return addr


class SmppChannel:
    """An SMPP v3.4 connection (or a transmitter + receiver pair) to one SMSC account."""

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        system_type: str = "",
        bind: BindMode = "transceiver",
        window: int = 100,
        tps: float | None = None,
        source_addr: str = "",
        source_ton: int = 5,
        source_npi: int = 0,
        registered_delivery: int = 1,
        use_payload: bool = False,
        enquire_link_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        response_timeout_s: float = 30.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        if bind not in ("transceiver", "pair", "transmitter"):
            raise LoaError(
                BAD_SETTING, field="bind", value=bind, fix="transceiver | pair | transmitter"
            )
        for name, value in (("port", port), ("window", window)):
            if not isinstance(value, int) or value < (0 if name == "port" else 1):
                raise LoaError(BAD_SETTING, field=name, value=value, fix="> 0")
        if len(system_id) > 15 or len(password) > 8:
            raise LoaError(
                BAD_SETTING,
                field="system_id/password",
                value=system_id,
                fix="system_id ≤ 15, password ≤ 8 (SMPP 3.4)",
            )
        self.host = host
        self.port = port
        self.system_id = system_id
        self.password = password
        self.system_type = system_type
        self.bind = bind
        self.window = window
        self.tps = tps
        self.source_addr = source_addr
        self.source_ton = source_ton
        self.source_npi = source_npi
        self.registered_delivery = registered_delivery
        self.use_payload = use_payload
        self.enquire_link_s = enquire_link_s
        self.connect_timeout_s = connect_timeout_s
        self.response_timeout_s = response_timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.info = ChannelInfo(
            name="smpp",
            kinds=frozenset({"sms"}),
            max_tps=int(tps) if tps else None,
            window=window,
        )
        self._links: dict[str, _Link] = {}
        self._receipt_handler: ReceiptHandler | None = None
        self._inbound_handler: InboundHandler | None = None
        self._held: list[Receipt | Inbound] = []  # arrived before a handler was set
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keeper: asyncio.Task[None] | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._submit_lock: asyncio.Lock | None = None
        self._bucket = _Bucket(tps) if tps else None
        self._delay = 0.0
        self._next_attempt = 0.0
        self._ref = random.randrange(256)
        self._parts_in: dict[tuple[str, int], tuple[float, dict[int, str]]] = {}
        self._opened = False
        self._closed = False
        self.binds = 0  # successful binds so far (a reconnect adds one)

    # --- the Channel interface ---

    def on_receipt(self, handler: ReceiptHandler) -> None:
        self._receipt_handler = handler
        self._release_held()

    def on_inbound(self, handler: InboundHandler) -> None:
        self._inbound_handler = handler
        self._release_held()

    async def open(self) -> None:
        """Connect and bind; after a lost connection, waits out the backoff first."""
        self._closed = False
        self._opened = True
        await self._ensure_connected()

    @property
    def connected(self) -> bool:
        """Whether every link this channel needs is bound."""
        return (
            bool(self._links)
            and all(link.alive for link in self._links.values())
            and len(self._links) == len(self._modes())
        )

    async def submit(self, batch: Sequence[Outgoing]) -> list[Submitted]:
        """Send every part of every message, at most `window` unanswered at once; one answer per
        message, in order. Raises ChannelDown when the connection is lost on the way."""
        if not batch:
            return []
        if self._submit_lock is None:
            self._submit_lock = asyncio.Lock()
        self._opened = True
        async with self._submit_lock:
            try:
                await self._ensure_connected(max_wait_s=SUBMIT_MAX_WAIT_S)
            except Exception as exc:
                raise ChannelDown(str(exc), unsent=[m.ref for m in batch]) from exc
            return await self._submit(batch)

    async def close(self) -> None:
        """Unbind politely and close the connection(s)."""
        self._closed = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        links = list(self._links.values())
        self._links.clear()
        for link in links:
            if link.alive:
                link.alive = False
                with contextlib.suppress(Exception):
                    await link.request(P.UNBIND, b"", min(5.0, self.response_timeout_s))
            if link.transport is not None:
                link.transport.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await link.gone
            if link.transport is not None and not link.gone.done():
                link.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)

    # --- connecting ---

    def _modes(self) -> dict[str, int]:
        if self.bind == "pair":
            return {"tx": P.BIND_TRANSMITTER, "rx": P.BIND_RECEIVER}
        if self.bind == "transmitter":
            return {"tx": P.BIND_TRANSMITTER}
        return {"tx": P.BIND_TRANSCEIVER}

    async def _ensure_connected(self, max_wait_s: float = float("inf")) -> None:
        """Bind whatever link is missing, first waiting out the backoff; when that wait is longer
        than `max_wait_s`, fail at once instead (a worker has other routes to serve)."""
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        while not self.connected:
            wait = self._next_attempt - time.monotonic()
            if wait > max_wait_s:
                raise LoaError(RECONNECTING, host=self.host, port=self.port, seconds=wait)
            if wait > 0:
                await asyncio.sleep(wait)  # outside the lock: a submit may not wait behind it
                continue
            async with self._connect_lock:
                if self.connected or self._next_attempt > time.monotonic():
                    continue  # another caller bound it, or failed and set a new wait
                try:
                    for name, mode in self._modes().items():
                        if name not in self._links or not self._links[name].alive:
                            self._links[name] = await self._connect(name, mode)
                except Exception:
                    self._delay = (
                        min(self._delay * 2, self.max_backoff_s) if self._delay else self.backoff_s
                    )
                    self._next_attempt = time.monotonic() + self._delay
                    raise
                self._delay = 0.0

    async def _connect(self, name: str, mode: int) -> _Link:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, link = await loop.create_connection(
                    lambda: _Link(self, name), self.host, self.port
                )
        except (OSError, TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            raise LoaError(CONNECT_FAILED, host=self.host, port=self.port, error=error) from exc
        body = P.bind_body(P.Bind(self.system_id, self.password, self.system_type))
        try:
            status, _ = await link.request(mode, body, self.connect_timeout_s)
        except (_Lost, TimeoutError) as exc:
            link.abort("bind failed")
            error = str(exc) or "no bind_resp"
            raise LoaError(CONNECT_FAILED, host=self.host, port=self.port, error=error) from exc
        except BaseException:  # cancelled (close() during a reconnect): leave no socket open
            link.abort("bind cancelled")
            raise
        if status != P.ESME_ROK:
            link.abort("bind refused")
            raise LoaError(
                BIND_REFUSED,
                host=self.host,
                port=self.port,
                system_id=self.system_id,
                status=P.status_name(status),
            )
        link.alive = True
        link.start_keepalive(
            self.enquire_link_s, max(2 * self.enquire_link_s, self.response_timeout_s)
        )
        self.binds += 1
        return link

    def _link_lost(self, link: _Link) -> None:
        if self._links.get(link.name) is not link:
            return
        log.warning(
            "SMPP %s link to %s:%s lost: %s", link.name, self.host, self.port, link.lost_reason
        )
        if not self._delay:
            self._delay = self.backoff_s
            self._next_attempt = time.monotonic() + self._delay
        if not self._closed and self._opened and (self._keeper is None or self._keeper.done()):
            # Reconnect in the background too, so receipts keep flowing while nothing is sent.
            self._keeper = asyncio.get_running_loop().create_task(self._keep())

    async def _keep(self) -> None:
        while not self._closed and not self.connected:
            try:
                await self._ensure_connected()
            except Exception as exc:
                log.warning("SMPP reconnect to %s:%s failed: %s", self.host, self.port, exc)

    # --- sending ---

    def _source(self, sender: str | None) -> tuple[int, int, str]:
        addr = sender or self.source_addr
        if not addr:
            return 0, 0, ""
        digits = addr[1:] if addr.startswith("+") else addr
        if digits.isdigit():
            if len(digits) <= 8 and not addr.startswith("+"):
                return 3, 0, digits  # a short code
            return 1, 1, digits
        return self.source_ton, self.source_npi, addr

    def _bodies(self, message: Outgoing) -> list[bytes]:
        """The submit_sm bodies of a message's parts."""
        encoded = P.encode_message(message.text, ref=self._ref, use_payload=self.use_payload)
        if len(encoded.short_messages) > 1:
            self._ref = (self._ref + 1) & 0xFF
        source_ton, source_npi, source = self._source(message.sender)
        to = message.to
        if to.startswith("+"):
            dest_ton, dest = 1, to[1:]
        else:
            dest_ton, dest = (0 if to.startswith("0") else 1), to
        validity = P.relative_validity(message.validity) if message.validity else ""
        template = P.ShortMessage(
            source_ton=source_ton,
            source_npi=source_npi,
            source_addr=source,
            dest_ton=dest_ton,
            dest_npi=1,
            destination_addr=dest,
            esm_class=encoded.esm_class,
            validity_period=validity,
            registered_delivery=self.registered_delivery,
            data_coding=encoded.data_coding,
        )
        if encoded.payload is not None:
            template.tlvs = {P.TAG_MESSAGE_PAYLOAD: encoded.payload}
            return [P.short_message_body(template)]
        bodies = []
        for short_message in encoded.short_messages:
            template.short_message = short_message
            bodies.append(P.short_message_body(template))
        return bodies

    async def _submit(self, batch: Sequence[Outgoing]) -> list[Submitted]:
        link = self._links["tx"]
        local: dict[int, Submitted] = {}
        bodies: list[list[bytes]] = []
        for index, message in enumerate(batch):
            try:
                bodies.append(self._bodies(message))
            except ValueError as exc:
                local[index] = Submitted(message.ref, "failed", code=None, error=str(exc))
                bodies.append([])
        state = _Batch([len(b) for b in bodies])
        # A message is written once its first part has gone to the socket; until then it is
        # "unsent" (safe to send again), after that its fate is the SMSC's to tell.
        written = [False] * len(batch)
        buffered: list[int] = []  # messages whose first part waits in the write buffer

        def flush() -> None:
            if link.flush():
                for i in buffered:
                    written[i] = True
            buffered.clear()

        window, bucket, timeout_s = self.window, self._bucket, self.response_timeout_s
        submits, out = link.submits, link.out
        pack = P.HEADER.pack
        try:
            for index, parts in enumerate(bodies):
                for part, body in enumerate(parts):
                    while len(submits) >= window:
                        flush()
                        await link.wait(timeout_s)
                    if bucket is not None:
                        delay = bucket.take()
                        if delay > 0:
                            flush()
                            await asyncio.sleep(delay)
                    if not link.alive:
                        raise _Lost(link.lost_reason or "not connected")
                    seq = link.next_seq()
                    submits[seq] = (state, index, part)
                    out.append(pack(16 + len(body), P.SUBMIT_SM, 0, seq) + body)
                    if not part:
                        buffered.append(index)
            flush()
            while state.remaining:
                await link.wait(timeout_s)
        except _Lost as exc:
            out.clear()
            for seq in [s for s, entry in submits.items() if entry[0] is state]:
                del submits[seq]
            answered = [
                local.get(i) or self._answer(m, state, i)
                for i, m in enumerate(batch)
                if i in local or (written[i] and not state.left[i])
            ]
            unsent = [m.ref for i, m in enumerate(batch) if not written[i] and i not in local]
            raise ChannelDown(str(exc), answered=answered, unsent=unsent) from None
        return [local.get(i) or self._answer(m, state, i) for i, m in enumerate(batch)]

    @staticmethod
    def _answer(message: Outgoing, state: _Batch, index: int) -> Submitted:
        statuses, ids = state.statuses[index], state.ids[index]
        if not any(statuses):
            return Submitted(message.ref, "accepted", provider_id=ids[0], part_ids=tuple(ids[1:]))
        bad = [s for s in statuses if s]
        permanent = [s for s in bad if s not in TRANSIENT]
        status = permanent[0] if permanent else bad[0]
        error = P.status_name(status)
        left = [ids[i] for i, s in enumerate(statuses) if s == P.ESME_ROK]
        if left:
            error += (
                f"; {len(left)} of {len(statuses)} parts were accepted and may reach the phone"
                f" ({', '.join(left)})"
            )
        if status in TRANSIENT:
            return Submitted(
                message.ref,
                "retry",
                code=P.status_code(status),
                error=error,
                retry_after=TRANSIENT[status],
            )
        return Submitted(message.ref, "failed", code=P.status_code(status), error=error)

    # --- receiving ---

    def _deliver(self, body: bytes) -> bool | asyncio.Future[Any]:
        """Hand a deliver_sm on: True when that is done (or there is nothing to hand on), False
        when the handler failed, or the future of an async handler still at work."""
        try:
            sm = P.decode_short_message(body)
        except (P.PduError, IndexError) as exc:
            log.warning("unreadable deliver_sm from %s:%s: %s", self.host, self.port, exc)
            return True
        sender = _phone(sm.source_addr, sm.source_ton)
        if is_receipt(sm):
            receipt = parse_receipt(sm, to=sender)
            if receipt is None:
                log.warning("a delivery receipt without a message id: %r", sm.short_message)
                return True
            return self._hand(receipt)
        data = sm.content()
        if sm.esm_class & P.ESM_UDHI and sm.short_message:
            udh, data = P.split_udh(data)
            text = P.decode_text(data, sm.data_coding)
            concat = P.concat_info(udh)
            if concat is not None and concat[1] > 1:
                joined = self._join(sm.source_addr, concat, text)
                if joined is None:
                    return True
                text = joined
        else:
            text = P.decode_text(data, sm.data_coding)
        return self._hand(
            Inbound(
                phone=sender,
                text=text,
                to=sm.destination_addr or None,
                received_at=datetime.now(UTC),
            )
        )

    def _join(self, source: str, concat: tuple[int, int, int], text: str) -> str | None:
        """The whole text once every part of a long inbound message is here."""
        ref, total, part = concat
        now = time.monotonic()
        for key in [k for k, (at, _) in self._parts_in.items() if now - at > 600]:
            del self._parts_in[key]
        _, parts = self._parts_in.setdefault((source, ref), (now, {}))
        parts[part] = text
        if len(parts) < total:
            return None
        del self._parts_in[(source, ref)]
        return "".join(parts[i] for i in sorted(parts))

    def _hand(self, item: Receipt | Inbound) -> bool | asyncio.Future[Any]:
        handler: Callable[[Any], Awaitable[None] | None] | None = (
            self._receipt_handler if isinstance(item, Receipt) else self._inbound_handler
        )
        if handler is None:
            self._held.append(item)
            return True
        try:
            result = handler(item)
        except Exception:
            log.exception("the %s handler failed", type(item).__name__)
            return False
        if not inspect.isawaitable(result):
            return True
        task = asyncio.ensure_future(result)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a receipt/inbound handler failed", exc_info=task.exception())

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for item in held:
            self._hand(item)


# --- benchmark ------------------------------------------------------------------------------------


async def bench(host: str, port: int, count: int, window: int = 200, batch: int = 1000) -> float:
    """Raw submit_sm/s: `count` one-part messages in batches of `batch`."""
    channel = SmppChannel(host, port, "bench", "bench", window=window)
    receipts = 0

    def _count(_: Receipt) -> None:
        nonlocal receipts
        receipts += 1

    channel.on_receipt(_count)
    await channel.open()
    messages = [
        Outgoing(ref=i, key=str(i), to=f"+8490{i % 10_000_000:07d}", text=f"Ma OTP {i:06d}")
        for i in range(count)
    ]
    started = time.perf_counter()
    for at in range(0, count, batch):
        answers = await channel.submit(messages[at : at + batch])
        assert all(a.outcome == "accepted" for a in answers), answers[0]
    elapsed = time.perf_counter() - started
    await channel.close()
    return count / elapsed


def _main(argv: list[str]) -> int:
    import argparse
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m loa.channels.smpp.client")
    parser.add_argument("--bench", type=int, metavar="N", required=True)
    parser.add_argument("target", nargs="?", help="HOST:PORT (default: start a sandbox SMSC)")
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args(argv)
    proc = None
    if args.target:
        host, _, port_text = args.target.rpartition(":")
        port = int(port_text)
    else:
        port_file = Path(tempfile.mkdtemp()) / "port"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loa.channels.smsc_sim",
                "--port",
                "0",
                "--quiet",
                "--port-file",
                str(port_file),
                "--receipt-delay",
                "0.01",
                "0.05",
            ]
        )
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the sandbox SMSC did not start")
            time.sleep(0.05)
        host, port = "127.0.0.1", int(port_file.read_text())
    try:
        rate = asyncio.run(bench(host, port, args.bench, window=args.window))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    print(f"{args.bench} submit_sm in {args.bench / rate:.2f} s: {rate:,.0f} submit_sm/s")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
