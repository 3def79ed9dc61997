"""`SmtpChannel`: email through an SMTP relay (the company's server, SES, Postmark, ...).

It keeps `pool` connections open across batches and sends each message as its own transaction
(MAIL, RCPT, DATA) so that every reply is about one message:
- 250 after DATA: `accepted`; the provider id is the Message-ID header we set (derived from the
  idempotency key, so a resend is the same message to the receiving side).
- 4xx at any step: `retry` (the server did not take it: greylisting, "try later", rate limits).
- 5xx: `failed`, with the SMTP code ("550") and the server's words.
- The connection refused or lost: `ChannelDown`. A message is only taken once the server answers
  the end of DATA, so a message lost before that is returned as unsent; one lost while waiting
  for that answer may have been taken, and is neither answered nor unsent. A pooled connection
  the server closed while idle is reopened once before MAIL, which cannot duplicate anything.

The message comes from `Outgoing`: `to` is the address, `sender` the From (else the route's
`from_address`), `text` the plain part, and `extras` may carry "subject", "html", "text",
"headers" (List-Unsubscribe, List-Unsubscribe-Post, ...), "message_id", or "email": a whole
`EmailMessage` built by `loa.domain.email.build_email`, sent as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Self

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loa.channels.base import (
    ChannelDown,
    ChannelInfo,
    InboundHandler,
    Outgoing,
    ReceiptHandler,
    Submitted,
)
from loa.domain.email import IDEMPOTENCY_HEADER, _address, _message_id, html_to_text
from loa.i18n import LoaError, Msg

BAD_SETTING = Msg(
    "smtp.bad_setting",
    "Cài đặt tuyến SMTP sai ở '{field}': {error}. Sửa giá trị này trong cài đặt tuyến.",
    "The SMTP route setting '{field}' is wrong: {error}. Fix this value in the route's settings.",
)
CONNECT_FAILED = Msg(
    "smtp.connect_failed",
    "Không kết nối được máy chủ SMTP {host}:{port}: {error}. Kiểm tra địa chỉ, cổng, TLS/STARTTLS "
    "và tường lửa.",
    "Cannot connect to the SMTP server at {host}:{port}: {error}. Check the host, the port, "
    "TLS/STARTTLS and the firewall.",
)
AUTH_FAILED = Msg(
    "smtp.auth_failed",
    "Máy chủ SMTP {host}:{port} từ chối đăng nhập '{username}': {error}. Kiểm tra tên đăng nhập "
    "và mật khẩu.",
    "The SMTP server at {host}:{port} refused the login of '{username}': {error}. Check the "
    "username and password.",
)
NO_SENDER = Msg(
    "smtp.no_sender",
    "Email không có địa chỉ gửi: đặt 'from_address' trong cài đặt tuyến hoặc người gửi của "
    "chiến dịch.",
    "The email has no From address: set 'from_address' in the route's settings or the "
    "campaign's sender.",
)
BAD_HEADER = Msg(
    "smtp.bad_header",
    "Tiêu đề email '{name}' không hợp lệ: {error}.",
    "The email header '{name}' is not valid: {error}.",
)


class SmtpSettings(BaseModel):
    """A route's SMTP settings."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)  # 465 with tls, 587 starttls, else 25
    starttls: bool = False
    tls: bool = False  # implicit TLS from the first byte (port 465)
    username: str | None = None
    password: str | None = None
    from_address: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    pool: int = Field(default=1, ge=1, le=100)
    validate_certs: bool = True
    ca_file: str | None = None  # a CA bundle for a private relay's certificate
    local_hostname: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.tls and self.starttls:
            raise ValueError("tls: choose tls (port 465) or starttls (port 587), not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("password: a login needs both username and password")
        if self.from_address is not None:
            try:
                _address(self.from_address, "From")
            except LoaError as exc:
                raise ValueError(f"from_address: {exc}") from None
        return self

    @property
    def real_port(self) -> int:
        return self.port or (465 if self.tls else 587 if self.starttls else 25)


def load_settings(settings: Mapping[str, Any]) -> SmtpSettings:
    """Settings checked; a bad one raises a LoaError naming the field."""
    try:
        return SmtpSettings.model_validate(dict(settings))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if not field:
            field, _, message = message.partition(": ")
        raise LoaError(BAD_SETTING, field=field, error=message) from None


class _Lost(Exception):
    """The connection went away; `taken_maybe` when it was during the answer to DATA."""

    def __init__(self, reason: str, *, taken_maybe: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.taken_maybe = taken_maybe


_GONE = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError)


class SmtpChannel:
    """Email over SMTP with a pool of kept-open connections."""

    info: ChannelInfo

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.info = ChannelInfo(name="smtp", kinds=frozenset({"email"}), window=settings.pool)
        self._pool: list[aiosmtplib.SMTP] = []
        self.connects = 0  # connections opened so far (a reconnect adds one)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """A channel from a route's settings; a bad one raises a LoaError naming the field."""
        return cls(load_settings(settings))

    # --- the Channel interface ---

    def on_receipt(self, handler: ReceiptHandler) -> None:
        """Bounces come back by email, not over this connection; nothing to hand on."""

    def on_inbound(self, handler: InboundHandler) -> None:
        """SMTP submission receives no messages."""

    async def open(self) -> None:
        """Open the first connection (and log in), raising a LoaError a person can act on."""
        if not self._pool:
            self._pool.append(self._client())
        client = self._pool[0]
        if client.is_connected:
            return
        try:
            await self._connect(client)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise LoaError(
                AUTH_FAILED,
                host=self.settings.host,
                port=self.settings.real_port,
                username=self.settings.username,
                error=f"{exc.code} {exc.message}",
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise LoaError(
                CONNECT_FAILED, host=self.settings.host, port=self.settings.real_port, error=exc
            ) from exc

    async def close(self) -> None:
        for client in self._pool:
            if client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
            client.close()
        self._pool.clear()

    async def submit(self, batch: Sequence[Outgoing]) -> list[Submitted]:
        """One answer per message, in order; up to `pool` messages in flight at once."""
        if not batch:
            return []
        while len(self._pool) < min(self.settings.pool, len(batch)):
            self._pool.append(self._client())
        answers: list[Submitted | None] = [None] * len(batch)
        taken_maybe: set[int] = set()
        down: list[str] = []
        queue = iter(range(len(batch)))

        async def work(client: aiosmtplib.SMTP) -> None:
            for index in queue:
                if down:
                    return  # this message and the rest stay unsent
                try:
                    answers[index] = await self._send(client, batch[index])
                except _Lost as exc:
                    down.append(exc.reason)
                    if exc.taken_maybe:
                        taken_maybe.add(index)
                    return

        workers = self._pool[: min(self.settings.pool, len(batch))]
        await asyncio.gather(*(work(client) for client in workers))
        if down:
            answered = [a for a in answers if a is not None]
            unsent = [
                m.ref for i, m in enumerate(batch) if answers[i] is None and i not in taken_maybe
            ]
            raise ChannelDown(down[0], answered=answered, unsent=unsent)
        return [a for a in answers if a is not None]

    # --- one message ---

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.real_port,
            username=s.username,
            password=s.password,
            use_tls=s.tls,
            start_tls=s.starttls,
            validate_certs=s.validate_certs,
            cert_bundle=s.ca_file,
            timeout=s.timeout_s,
            local_hostname=s.local_hostname,
        )

    async def _connect(self, client: aiosmtplib.SMTP) -> None:
        client.close()
        await client.connect()
        self.connects += 1

    async def _send(self, client: aiosmtplib.SMTP, message: Outgoing) -> Submitted:
        built = self._build(message)
        if isinstance(built, Submitted):
            return built
        email, sender, recipient = built
        data = email.as_bytes(policy=email.policy.clone(linesep="\r\n"))
        for attempt in (1, 2):
            if not client.is_connected:
                try:
                    await self._connect(client)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    raise _Lost(
                        f"cannot connect to the SMTP server: {exc}", taken_maybe=False
                    ) from exc
            try:
                await client.mail(sender)
                await client.rcpt(recipient)
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset(client, exc.code)
                return _refused(message, exc)
            except _GONE as exc:
                client.close()
                if attempt == 1:
                    continue  # an idle connection the server had closed: nothing was taken
                raise _Lost(f"connection lost: {exc}", taken_maybe=False) from exc
            try:
                await client.data(data)
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset(client, exc.code)
                return _refused(message, exc)
            except _GONE as exc:
                client.close()
                raise _Lost(f"connection lost during DATA: {exc}", taken_maybe=True) from exc
            return Submitted(message.ref, "accepted", provider_id=str(email["Message-ID"]))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _reset(self, client: aiosmtplib.SMTP, code: int) -> None:
        if code == 421:  # the server is closing this connection
            client.close()
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    def _build(self, message: Outgoing) -> tuple[EmailMessage, str, str] | Submitted:
        """The message, its envelope sender and recipient; or the reason it cannot be sent."""
        extras = message.extras
        try:
            to = _address(message.to, "To")
            ready = extras.get("email")
            if isinstance(ready, EmailMessage):
                if ready["Message-ID"] is None:
                    ready["Message-ID"] = _message_id(message.key, to.domain)
                from_value = str(ready["From"] or "") or self.settings.from_address
                if not from_value:
                    return Submitted(
                        message.ref, "failed", code="no-sender", error=NO_SENDER.render()
                    )
                return ready, _address(from_value, "From").addr_spec, to.addr_spec
            from_value = message.sender or self.settings.from_address
            if not from_value:
                return Submitted(message.ref, "failed", code="no-sender", error=NO_SENDER.render())
            sender = _address(from_value, "From")
        except LoaError as exc:
            return Submitted(message.ref, "failed", code="bad-address", error=exc.render())
        email = EmailMessage()
        name = "Subject"
        try:
            email["Subject"] = str(extras.get("subject") or "")
            email["From"] = sender
            email["To"] = to
            email["Date"] = format_datetime(datetime.now(UTC))
            email["Message-ID"] = str(extras.get("message_id") or "") or _message_id(
                message.key, sender.domain
            )
            email[IDEMPOTENCY_HEADER] = message.key
            for name, value in dict(extras.get("headers") or {}).items():
                del email[name]
                email[name] = str(value)
        except (ValueError, TypeError) as exc:
            error = BAD_HEADER.render(name=name, error=exc)
            return Submitted(message.ref, "failed", code="bad-header", error=error)
        html = extras.get("html")
        text = extras.get("text") or message.text or (html_to_text(html) if html else "")
        email.set_content(str(text), cte="quoted-printable")
        if html:
            email.add_alternative(str(html), subtype="html", cte="quoted-printable")
        return email, sender.addr_spec, to.addr_spec


def _refused(message: Outgoing, exc: aiosmtplib.SMTPResponseException) -> Submitted:
    if 400 <= exc.code < 500:
        return Submitted(message.ref, "retry", code=str(exc.code), error=exc.message)
    return Submitted(message.ref, "failed", code=str(exc.code), error=exc.message)
