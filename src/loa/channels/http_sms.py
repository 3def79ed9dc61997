"""`HttpSmsChannel`: SMS through a provider's JSON HTTP API, described by settings, not code.

A route's settings say where to POST (`url`, `method`, `auth`), how a message becomes a JSON
body (`body`, a template whose strings may hold `{to}`, `{to_national}`, `{msisdn}`, `{text}`,
`{sender}`, `{key}`, `{klass}`, `{parts}`, `{encoding}`; a string that is exactly one placeholder
keeps the value's type, so `"{parts}"` sends a number), and how to read the answer (`id_path`,
`success_path` == `success_value`, `error_path`). With `batch_size` > 1 one request carries
up to that many messages as a list under `batch_key`, and the answer holds a list in the same
order (at `batch_response_path`, or the body itself). Up to `window` requests are in flight at
once over one pooled `httpx.AsyncClient`.

What an answer means (base.py's rules):
- 2xx and the success condition: `accepted`, with the id at `id_path` (no `id_path`: our key is
  the id, for providers that report by our request id).
- 429 and 503, a provider code in `retry_codes`, a connect timeout: `retry` (nothing was taken),
  with `Retry-After` as `retry_after`.
- Other 4xx, or 2xx that fails the condition: `failed` with the provider's code (`error_path`),
  else the HTTP status.
- No answer after the request went out (read timeout, dropped connection, a 5xx other than 503):
  the provider may have taken it. When it deduplicates by request id (`dedupes: true`, as the
  Vietnamese brandname gateways do with `request_id`), sending again is safe: `retry`. Otherwise
  `failed` with code `uncertain`, so the message is never sent twice.
- Connection refused, or our credentials refused (401/403): `ChannelDown`; the messages not yet
  answered are returned as unsent (the provider took none of them).

`preset: "vn_brandname"` fills in the common shape of Vietnamese SMS Brandname gateways; see
`VN_BRANDNAME`. Delivery reports come to a webhook; `parse_webhook` turns its body into receipts.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loa.channels.base import (
    ChannelDown,
    ChannelInfo,
    InboundHandler,
    Outgoing,
    Receipt,
    ReceiptHandler,
    ReceiptState,
    Submitted,
)
from loa.i18n import LoaError, Msg

BAD_SETTING = Msg(
    "http_sms.bad_setting",
    "Cài đặt tuyến HTTP SMS sai ở '{field}': {error}. Sửa giá trị này trong cài đặt tuyến.",
    "The HTTP SMS route setting '{field}' is wrong: {error}. Fix this value in the route's "
    "settings.",
)
UNCERTAIN = Msg(
    "http_sms.uncertain",
    "Không nhận được trả lời sau khi đã gửi yêu cầu ({error}); nhà cung cấp có thể đã nhận tin "
    "nên Loa không gửi lại.",
    "No answer after the request was sent ({error}); the provider may have taken the message, "
    "so Loa does not send it again.",
)
NO_ID = Msg(
    "http_sms.no_id",
    "Nhà cung cấp trả lời thành công nhưng không có mã tin ở '{path}'.",
    "The provider answered success but gave no message id at '{path}'.",
)
NO_SENDER = Msg(
    "http_sms.no_sender",
    "Tin không có brandname/người gửi: đặt 'sender' trong cài đặt tuyến hoặc cho chiến dịch.",
    "The message has no brandname/sender: set 'sender' in the route's settings or the campaign.",
)

PLACEHOLDERS: Final = frozenset(
    {"to", "to_national", "msisdn", "text", "sender", "key", "klass", "parts", "encoding"}
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_RETRY_STATUSES: Final = frozenset({429, 503})
RECEIPT_STATES: Final = frozenset({"delivered", "undelivered", "expired", "rejected", "unknown"})

# The common shape of Vietnamese SMS Brandname HTTP gateways: a JSON POST with the brandname,
# the number as 84..., the text, the message type (1 customer care, 2 advertising), our request
# id (which the gateway deduplicates on) and where to send the delivery report; the answer is
# {"code": "00", "message_id": ...}. It is a generic shape, not one vendor's contract: a real
# gateway's field names and codes go in the route's settings, which override these.
VN_BRANDNAME: Final[Mapping[str, Any]] = {
    "body": {
        "brandname": "{sender}",
        "phone": "{msisdn}",
        "message": "{text}",
        "type": "{klass}",
        "request_id": "{key}",
    },
    "klass_map": {"cskh": 1, "confirmation": 1, "public": 1, "qc": 2},
    "id_path": "message_id",
    "success_path": "code",
    "success_value": "00",
    "error_path": "code",
    "error_text_path": "message",
    "retry_codes": ["99"],  # system busy
    "duplicate_codes": ["05"],  # request_id already taken: answered with the first message_id
    "dedupes": True,
    "webhook": {
        "id_path": "message_id",
        "status_path": "status",
        "code_path": "error_code",
        "to_path": "phone",
        "done_at_path": "done_at",
        "status_map": {
            "DELIVERED": "delivered",
            "FAILED": "undelivered",
            "EXPIRED": "expired",
            "REJECTED": "rejected",
        },
    },
}


class WebhookSettings(BaseModel):
    """Where a delivery report's fields are in the webhook's JSON (dotted paths)."""

    model_config = ConfigDict(extra="forbid")

    list_path: str | None = None  # reports under a key; None: the body is one report or a list
    id_path: str = "id"
    status_path: str = "status"
    code_path: str | None = None
    to_path: str | None = None
    done_at_path: str | None = None
    status_map: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _states(self) -> Self:
        for word, state in self.status_map.items():
            if state not in RECEIPT_STATES:
                raise ValueError(
                    f"status_map[{word!r}] = {state!r}: use one of "
                    + ", ".join(sorted(RECEIPT_STATES))
                )
        return self


class HttpSmsSettings(BaseModel):
    """A route's settings; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["generic", "vn_brandname"] = "generic"
    url: str
    method: Literal["POST", "PUT"] = "POST"
    auth: Literal["none", "bearer", "basic", "header"] = "none"
    token: str | None = None  # bearer token, or the value of the `header_name` header
    username: str | None = None
    password: str | None = None
    header_name: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(
        default_factory=lambda: {"to": "{to}", "text": "{text}", "from": "{sender}"}
    )
    sender: str | None = None  # default brandname when the message has none
    callback_url: str | None = None
    klass_map: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=1, ge=1, le=10_000)
    batch_key: str = "messages"
    batch_response_path: str | None = None
    id_path: str | None = "id"
    success_path: str | None = None
    success_value: str | None = None
    error_path: str | None = None
    error_text_path: str | None = None
    retry_codes: list[str] = Field(default_factory=list)
    duplicate_codes: list[str] = Field(default_factory=list)
    dedupes: bool = False
    timeout_s: float = Field(default=15.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    window: int = Field(default=10, ge=1, le=1000)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url: use an http:// or https:// address")
        if self.auth in ("bearer", "header") and not self.token:
            raise ValueError(f"token: auth '{self.auth}' needs a token")
        if self.auth == "header" and not self.header_name:
            raise ValueError("header_name: auth 'header' needs the header's name")
        if self.auth == "basic" and (self.username is None or self.password is None):
            raise ValueError("username/password: auth 'basic' needs both")
        if (self.success_path is None) != (self.success_value is None):
            raise ValueError("success_path/success_value: give both or neither")
        unknown = sorted(_placeholders(self.body) - PLACEHOLDERS)
        if unknown:
            raise ValueError(
                "body: unknown placeholder {"
                + unknown[0]
                + "}; use one of "
                + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            )
        return self


def _placeholders(template: Any) -> set[str]:
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, Mapping):
        return set().union(*(_placeholders(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(_placeholders(v) for v in template))
    return set()


def load_settings(settings: Mapping[str, Any]) -> HttpSmsSettings:
    """Settings checked, with a preset's values under the ones given."""
    values = dict(settings)
    if values.get("preset") == "vn_brandname":
        values = {**VN_BRANDNAME, **values}
        body = dict(values["body"])
        if values.get("callback_url") and "callback_url" not in body:
            body["callback_url"] = values["callback_url"]
        values["body"] = body
    try:
        return HttpSmsSettings.model_validate(values)
    except ValidationError as exc:
        raise _bad_setting(exc) from None


def _bad_setting(exc: ValidationError) -> LoaError:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not field:  # a check across fields says which one it blames: "field: why"
        field, _, message = message.partition(": ")
    return LoaError(BAD_SETTING, field=field, error=message)


# --- reading JSON ---------------------------------------------------------------------------


def dig(value: Any, path: str | None) -> Any:
    """The value at a dotted path ("data.message_id", "results.0.id"); None when absent."""
    if path is None or path == "":
        return value
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def retry_after_s(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- rendering ------------------------------------------------------------------------------


def _national(to: str) -> str:
    if to.startswith("+84"):
        return "0" + to[3:]
    return to.removeprefix("+")


def fields_of(message: Outgoing, settings: HttpSmsSettings) -> dict[str, Any]:
    """The values the body template's placeholders stand for."""
    return {
        "to": message.to,
        "to_national": _national(message.to),
        "msisdn": message.to.removeprefix("+"),
        "text": message.text,
        "sender": message.sender or settings.sender or "",
        "key": message.key,
        "klass": settings.klass_map.get(message.klass, message.klass),
        "parts": message.parts,
        "encoding": message.encoding,
    }


def render(template: Any, fields: Mapping[str, Any]) -> Any:
    """The template with its placeholders replaced; a lone placeholder keeps its type."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return fields[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(fields[m.group(1)]), template)
    if isinstance(template, Mapping):
        return {k: render(v, fields) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, fields) for v in template]
    return template


# --- delivery reports -----------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_webhook(settings: Mapping[str, Any] | HttpSmsSettings, body: Any) -> list[Receipt]:
    """The delivery reports in a webhook body, by the route's `webhook` paths and status map.

    A provider word missing from the map gives state "unknown"; a report without an id is
    skipped (nothing could be matched to it)."""
    config = settings if isinstance(settings, HttpSmsSettings) else load_settings(settings)
    hook = config.webhook
    items = dig(body, hook.list_path) if hook.list_path else body
    if not isinstance(items, list):
        items = [items]
    states = {str(word).lower(): state for word, state in hook.status_map.items()}
    receipts: list[Receipt] = []
    for item in items:
        provider_id = _text(dig(item, hook.id_path))
        if provider_id is None:
            continue
        word = _text(dig(item, hook.status_path))
        state = states.get(word.lower(), "unknown") if word is not None else "unknown"
        receipts.append(
            Receipt(
                provider_id=provider_id,
                state=_state(state),
                to=_text(dig(item, hook.to_path)) if hook.to_path else None,
                code=_text(dig(item, hook.code_path)) if hook.code_path else None,
                done_at=_when(dig(item, hook.done_at_path)) if hook.done_at_path else None,
                raw=_raw(item),
            )
        )
    return receipts


def _state(word: str) -> ReceiptState:
    if word == "delivered":
        return "delivered"
    if word == "undelivered":
        return "undelivered"
    if word == "expired":
        return "expired"
    if word == "rejected":
        return "rejected"
    return "unknown"


def _raw(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)


# --- the channel ----------------------------------------------------------------------------


class _Down(Exception):
    """The provider refused the connection or our credentials."""


class HttpSmsChannel:
    """SMS through a JSON HTTP API, up to `window` requests in flight."""

    info: ChannelInfo

    def __init__(self, settings: HttpSmsSettings) -> None:
        self.settings = settings
        self.info = ChannelInfo(name="http-sms", kinds=frozenset({"sms"}), window=settings.window)
        self._client: httpx.AsyncClient | None = None
        self._receipt_handler: ReceiptHandler | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """A channel from a route's settings; a bad one raises a LoaError naming the field."""
        return cls(load_settings(settings))

    # --- the Channel interface ---

    def on_receipt(self, handler: ReceiptHandler) -> None:
        self._receipt_handler = handler

    def on_inbound(self, handler: InboundHandler) -> None:
        """HTTP SMS gateways here send no inbound messages; nothing to hand on."""

    async def open(self) -> None:
        if self._client is not None:
            return
        s = self.settings
        headers = {"Accept": "application/json", **s.headers}
        auth: httpx.Auth | None = None
        if s.auth == "bearer":
            headers["Authorization"] = f"Bearer {s.token}"
        elif s.auth == "header":
            assert s.header_name is not None and s.token is not None
            headers[s.header_name] = s.token
        elif s.auth == "basic":
            assert s.username is not None and s.password is not None
            auth = httpx.BasicAuth(s.username, s.password)
        self._client = httpx.AsyncClient(
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s, pool=None),
            limits=httpx.Limits(max_connections=s.window, max_keepalive_connections=s.window),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def submit(self, batch: Sequence[Outgoing]) -> list[Submitted]:
        """One answer per message, in order; ChannelDown when the provider is unreachable."""
        if not batch:
            return []
        await self.open()
        s = self.settings
        answers: list[Submitted | None] = [None] * len(batch)
        ready: list[int] = []
        for index, message in enumerate(batch):
            if "sender" in _placeholders(s.body) and not (message.sender or s.sender):
                answers[index] = Submitted(
                    message.ref, "failed", code="no-sender", error=NO_SENDER.render()
                )
            else:
                ready.append(index)
        chunks = [ready[i : i + s.batch_size] for i in range(0, len(ready), s.batch_size)]
        gate = asyncio.Semaphore(s.window)
        down: list[str] = []

        async def send(chunk: list[int]) -> None:
            async with gate:
                if down:
                    return  # the provider is gone: leave the rest unsent
                try:
                    results = await self._request([batch[i] for i in chunk])
                except _Down as exc:
                    down.append(str(exc))
                    return
                for index, answer in zip(chunk, results, strict=True):
                    answers[index] = answer

        await asyncio.gather(*(send(chunk) for chunk in chunks))
        if down:
            answered = [a for a in answers if a is not None]
            unsent = [m.ref for m, a in zip(batch, answers, strict=True) if a is None]
            raise ChannelDown(down[0], answered=answered, unsent=unsent)
        return [a for a in answers if a is not None]

    async def receive_webhook(self, body: Any) -> list[Receipt]:
        """Parse a delivery-report webhook body, pass each receipt to the handler (if one is
        set) and return them."""
        receipts = parse_webhook(self.settings, body)
        for receipt in receipts:
            if self._receipt_handler is None:
                continue
            result = self._receipt_handler(receipt)
            if inspect.isawaitable(result):
                await result
        return receipts

    # --- one request ---

    async def _request(self, messages: Sequence[Outgoing]) -> list[Submitted]:
        s = self.settings
        assert self._client is not None
        items = [render(s.body, fields_of(m, s)) for m in messages]
        payload: Any = items[0] if s.batch_size == 1 else {s.batch_key: items}
        try:
            response = await self._client.request(s.method, s.url, json=payload)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return [
                self._retry(m, "connect-timeout", f"{type(exc).__name__}: {exc}") for m in messages
            ]
        except httpx.ConnectError as exc:
            raise _Down(f"cannot connect to {s.url}: {exc}") from exc
        except httpx.TransportError as exc:
            return [
                self._uncertain(m, f"{type(exc).__name__}: {exc}".rstrip(": ")) for m in messages
            ]
        status = response.status_code
        if status in (401, 403):
            raise _Down(f"{s.url} refused our credentials: HTTP {status} {response.text[:200]}")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        wait = retry_after_s(response.headers.get("Retry-After"))
        if status >= 300:
            code = _text(dig(body, s.error_path)) if s.error_path and body is not None else None
            if (code is not None and code in s.retry_codes) or status in _RETRY_STATUSES:
                error = _error(body, s, response)
                return [self._retry(m, code or str(status), error, wait) for m in messages]
            if status >= 500:
                return [self._uncertain(m, f"HTTP {status}") for m in messages]
            return [self._refused(m, body, s, response) for m in messages]
        if s.batch_size == 1:
            return [self._read(messages[0], body, response, wait)]
        listed = dig(body, s.batch_response_path) if s.batch_response_path else body
        if not isinstance(listed, list) and isinstance(body, Mapping):
            listed = body.get(s.batch_key)
        if not isinstance(listed, list) or len(listed) != len(messages):
            return [self._uncertain(m, "the answer holds no list of results") for m in messages]
        return [
            self._read(m, item, response, wait) for m, item in zip(messages, listed, strict=True)
        ]

    def _read(
        self, message: Outgoing, body: Any, response: httpx.Response, wait: float | None
    ) -> Submitted:
        """The answer to one message from a 2xx answer (or one item of a batch's list)."""
        s = self.settings
        code = _text(dig(body, s.error_path)) if s.error_path else None
        ok = s.success_path is None or _text(dig(body, s.success_path)) == s.success_value
        duplicate = code is not None and code in s.duplicate_codes
        if not ok and not duplicate:
            return self._refused(message, body, s, response, wait)
        if s.id_path is None:
            return Submitted(message.ref, "accepted", provider_id=message.key)
        provider_id = _text(dig(body, s.id_path))
        if provider_id is None:
            if body is None:
                return self._uncertain(message, "the answer is not JSON")
            return Submitted(
                message.ref, "failed", code="no-id", error=NO_ID.render(path=s.id_path)
            )
        return Submitted(message.ref, "accepted", provider_id=provider_id)

    def _refused(
        self,
        message: Outgoing,
        body: Any,
        s: HttpSmsSettings,
        response: httpx.Response,
        wait: float | None = None,
    ) -> Submitted:
        code = _text(dig(body, s.error_path)) if s.error_path and body is not None else None
        if code is not None and code in s.retry_codes:
            return self._retry(message, code, _error(body, s, response), wait)
        return Submitted(
            message.ref,
            "failed",
            code=code or str(response.status_code),
            error=_error(body, s, response),
        )

    def _retry(
        self, message: Outgoing, code: str, error: str, wait: float | None = None
    ) -> Submitted:
        return Submitted(message.ref, "retry", code=code, error=error, retry_after=wait)

    def _uncertain(self, message: Outgoing, error: str) -> Submitted:
        if self.settings.dedupes:
            return Submitted(message.ref, "retry", code="uncertain", error=error)
        return Submitted(
            message.ref, "failed", code="uncertain", error=UNCERTAIN.render(error=error)
        )


def _error(body: Any, s: HttpSmsSettings, response: httpx.Response) -> str:
    words = _text(dig(body, s.error_text_path)) if s.error_text_path and body is not None else None
    return words or f"HTTP {response.status_code} {response.reason_phrase}".strip()
