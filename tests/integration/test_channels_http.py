"""HTTP SMS against a real local HTTP server playing the provider: the bodies it receives, the
ids that come back, and what each kind of answer (or silence) means for a message."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from tests.integration.http_peers import Answer, Request, serving, slow

from loa.channels.base import ChannelDown, Outgoing, Receipt, Submitted
from loa.channels.http_sms import HttpSmsChannel, parse_webhook
from loa.i18n import LoaError


def msg(ref: int, to: str = "+84912345678", **kw: Any) -> Outgoing:
    return Outgoing(ref=ref, key=f"k-{ref}", to=to, text=f"Xin chào {ref}", **kw)


def send(settings: Mapping[str, Any], batch: Sequence[Outgoing]) -> list[Submitted]:
    async def run() -> list[Submitted]:
        channel = HttpSmsChannel.from_settings(settings)
        await channel.open()
        try:
            return await channel.submit(batch)
        finally:
            await channel.close()

    return asyncio.run(run())


GENERIC = {
    "auth": "bearer",
    "token": "s3cret",
    "body": {
        "dest": "{to_national}",
        "content": "{text}",
        "meta": {"from": "{sender}", "ref": "{key}", "segments": "{parts}", "kind": "{klass}"},
    },
    "klass_map": {"qc": "ADV"},
    "id_path": "data.message_id",
    "success_path": "status",
    "success_value": "ok",
    "error_path": "error.code",
    "error_text_path": "error.message",
}


def test_generic_body_carries_the_mapped_fields_and_the_id_comes_back() -> None:
    def respond(request: Request) -> Answer:
        # The id names the request it answers: the two go concurrently, in any order.
        ref = request.json()["meta"]["ref"]
        return 200, {}, {"status": "ok", "data": {"message_id": f"m-{ref}"}}

    with serving(respond) as peer:
        answers = send(
            {**GENERIC, "url": peer.url + "/sms"},
            [msg(1, sender="SHOPLOA", parts=2), msg(2, to="+84387654321", sender="SHOPLOA")],
        )
    assert answers == [
        Submitted(1, "accepted", provider_id="m-k-1"),
        Submitted(2, "accepted", provider_id="m-k-2"),
    ]
    by_dest = {r.json()["dest"]: r for r in peer.requests}
    first = by_dest["0912345678"]
    assert (first.method, first.path) == ("POST", "/sms")
    assert first.headers["authorization"] == "Bearer s3cret"
    assert first.json() == {
        "dest": "0912345678",
        "content": "Xin chào 1",
        "meta": {"from": "SHOPLOA", "ref": "k-1", "segments": 2, "kind": "ADV"},
    }
    assert sorted(by_dest) == ["0387654321", "0912345678"]


def test_basic_and_header_auth_reach_the_provider() -> None:
    with serving(lambda r: (200, {}, {"id": "x1"})) as peer:
        send(
            {"url": peer.url, "auth": "basic", "username": "shop", "password": "pw"},
            [msg(1, sender="A")],
        )
        send(
            {"url": peer.url, "auth": "header", "header_name": "X-Api-Key", "token": "abc"},
            [msg(2, sender="A")],
        )
    assert (
        peer.requests[0].headers["authorization"]
        == "Basic " + base64.b64encode(b"shop:pw").decode()
    )
    assert peer.requests[1].headers["x-api-key"] == "abc"


def test_429_is_retried_after_what_the_provider_asked() -> None:
    answer = (429, {"Retry-After": "7"}, {"error": {"code": "RATE", "message": "slow down"}})
    with serving(lambda r: answer) as peer:
        answers = send({**GENERIC, "url": peer.url}, [msg(1, sender="S")])
    assert answers == [Submitted(1, "retry", code="RATE", error="slow down", retry_after=7.0)]


def test_503_without_a_body_is_retried_with_the_http_status() -> None:
    with serving(lambda r: (503, {}, "")) as peer:
        answers = send({"url": peer.url}, [msg(1, sender="S")])
    assert answers == [
        Submitted(1, "retry", code="503", error="HTTP 503 Service Unavailable", retry_after=None)
    ]


def test_400_fails_with_the_providers_code_and_words() -> None:
    answer = (400, {}, {"status": "error", "error": {"code": "E_PHONE", "message": "bad phone"}})
    with serving(lambda r: answer) as peer:
        answers = send({**GENERIC, "url": peer.url}, [msg(1, sender="S")])
    assert answers == [Submitted(1, "failed", code="E_PHONE", error="bad phone")]


def test_400_without_a_code_path_fails_with_the_http_status() -> None:
    with serving(lambda r: (400, {}, {"oops": 1})) as peer:
        answers = send({"url": peer.url}, [msg(1, sender="S")])
    assert answers == [Submitted(1, "failed", code="400", error="HTTP 400 Bad Request")]


def test_2xx_that_fails_the_success_condition_fails_with_the_code() -> None:
    answer = (200, {}, {"status": "error", "error": {"code": "E_BRAND", "message": "no brand"}})
    with serving(lambda r: answer) as peer:
        answers = send({**GENERIC, "url": peer.url}, [msg(1, sender="S")])
    assert answers == [Submitted(1, "failed", code="E_BRAND", error="no brand")]


def test_a_message_without_a_sender_fails_before_any_request() -> None:
    with serving(lambda r: (200, {}, {"id": "x"})) as peer:
        answers = send({"url": peer.url}, [msg(1)])
    assert answers[0].outcome == "failed" and answers[0].code == "no-sender"
    assert answers[0].error is not None and "brandname" in answers[0].error
    assert peer.requests == []


def test_no_answer_after_sending_is_not_sent_again_unless_the_provider_dedupes() -> None:
    with serving(slow(2.0, (200, {}, {"id": "late"}))) as peer:
        settings = {"url": peer.url, "timeout_s": 0.3, "sender": "S"}
        plain = send(settings, [msg(1)])
        deduped = send({**settings, "dedupes": True}, [msg(2)])
    assert plain[0].outcome == "failed" and plain[0].code == "uncertain"
    assert plain[0].error is not None
    assert "nhà cung cấp có thể đã nhận tin nên Loa không gửi lại" in plain[0].error
    assert (deduped[0].outcome, deduped[0].code) == ("retry", "uncertain")


def test_a_refused_connection_is_channel_down_with_every_message_unsent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the request: nothing listens
    with pytest.raises(ChannelDown) as caught:
        send({"url": f"http://127.0.0.1:{port}/sms", "sender": "S"}, [msg(1), msg(2)])
    assert caught.value.answered == []
    assert sorted(caught.value.unsent) == [1, 2]


def test_refused_credentials_are_channel_down() -> None:
    with (
        serving(lambda r: (401, {}, {"error": "bad token"})) as peer,
        pytest.raises(ChannelDown) as caught,
    ):
        send({"url": peer.url, "sender": "S", "auth": "bearer", "token": "t"}, [msg(1)])
    assert "HTTP 401" in caught.value.reason
    assert caught.value.unsent == [1]


# --- the Vietnamese brandname preset --------------------------------------------------------


def vn_gateway(request: Request) -> Answer:
    body = request.json()
    if body["phone"] == "84900000099":
        return 200, {}, {"code": "99", "message": "He thong ban"}
    if body["phone"] == "84900000013":
        return 200, {}, {"code": "13", "message": "Brandname chua dang ky"}
    if body["phone"] == "84900000005":
        return 200, {}, {"code": "05", "message": "Trung request_id", "message_id": "first-5"}
    return 200, {}, {"code": "00", "message": "OK", "message_id": f"vn-{body['request_id']}"}


def test_vn_brandname_body_dedup_id_and_codes() -> None:
    with serving(vn_gateway) as peer:
        settings = {
            "preset": "vn_brandname",
            "url": peer.url + "/api/sms",
            "auth": "bearer",
            "token": "t",
            "callback_url": "https://loa.example.vn/hooks/dlr",
        }
        answers = send(
            settings,
            [
                msg(1, sender="LOASHOP", klass="qc"),
                msg(2, sender="LOASHOP", klass="cskh"),
                msg(3, to="+84900000099", sender="LOASHOP"),
                msg(4, to="+84900000013", sender="LOASHOP"),
                msg(5, to="+84900000005", sender="LOASHOP"),
            ],
        )
    assert answers == [
        Submitted(1, "accepted", provider_id="vn-k-1"),
        Submitted(2, "accepted", provider_id="vn-k-2"),
        Submitted(3, "retry", code="99", error="He thong ban"),
        Submitted(4, "failed", code="13", error="Brandname chua dang ky"),
        Submitted(5, "accepted", provider_id="first-5"),
    ]
    bodies = {r.json()["request_id"]: r.json() for r in peer.requests}
    assert bodies["k-1"] == {
        "brandname": "LOASHOP",
        "phone": "84912345678",
        "message": "Xin chào 1",
        "type": 2,
        "request_id": "k-1",
        "callback_url": "https://loa.example.vn/hooks/dlr",
    }
    assert bodies["k-2"]["type"] == 1


def test_vn_brandname_settings_given_override_the_preset() -> None:
    with serving(lambda r: (200, {}, {"code": "00", "msgid": "z9"})) as peer:
        answers = send(
            {"preset": "vn_brandname", "url": peer.url, "id_path": "msgid", "sender": "BRAND"},
            [msg(1)],
        )
    assert answers == [Submitted(1, "accepted", provider_id="z9")]
    assert peer.requests[0].json()["brandname"] == "BRAND"


def test_webhook_reports_map_to_receipt_states() -> None:
    body = [
        {
            "message_id": "vn-k-1",
            "status": "DELIVERED",
            "phone": "84912345678",
            "done_at": "2025-03-01T08:00:05+07:00",
        },
        {"message_id": "vn-k-2", "status": "FAILED", "error_code": "UNDELIV-3"},
        {"message_id": "vn-k-3", "status": "expired"},
        {"message_id": "vn-k-4", "status": "QUEUED"},
        {"status": "DELIVERED"},
    ]
    receipts = parse_webhook({"preset": "vn_brandname", "url": "https://gw.example.vn"}, body)
    assert [(r.provider_id, r.state, r.code) for r in receipts] == [
        ("vn-k-1", "delivered", None),
        ("vn-k-2", "undelivered", "UNDELIV-3"),
        ("vn-k-3", "expired", None),
        ("vn-k-4", "unknown", None),
    ]
    assert receipts[0].to == "84912345678"
    assert receipts[0].done_at is not None and receipts[0].done_at.isoformat() == (
        "2025-03-01T08:00:05+07:00"
    )
    assert '"status":"DELIVERED"' in receipts[0].raw


def test_generic_webhook_with_a_list_path_reaches_the_handler() -> None:
    settings = {
        "url": "https://sms.example.com",
        "webhook": {
            "list_path": "reports",
            "id_path": "msg.id",
            "status_path": "msg.state",
            "status_map": {"1": "delivered", "2": "undelivered"},
        },
    }
    seen: list[Receipt] = []

    async def run() -> list[Receipt]:
        channel = HttpSmsChannel.from_settings(settings)
        channel.on_receipt(seen.append)
        return await channel.receive_webhook(
            {"reports": [{"msg": {"id": 7, "state": 1}}, {"msg": {"id": 8, "state": 2}}]}
        )

    receipts = asyncio.run(run())
    assert [(r.provider_id, r.state) for r in seen] == [("7", "delivered"), ("8", "undelivered")]
    assert receipts == seen


# --- volume and concurrency -----------------------------------------------------------------


def test_500_messages_go_through_concurrently_in_order() -> None:
    def respond(request: Request) -> Answer:
        time.sleep(0.005)  # a provider's round trip, so requests overlap
        return 200, {}, {"id": "p-" + request.json()["ref"]}

    batch = [msg(i, sender="S") for i in range(500)]
    with serving(respond) as peer:
        started = time.monotonic()
        answers = send(
            {"url": peer.url, "window": 8, "body": {"to": "{to}", "ref": "{key}"}}, batch
        )
        elapsed = time.monotonic() - started
    assert [a.ref for a in answers] == list(range(500))
    assert {a.outcome for a in answers} == {"accepted"}
    assert [a.provider_id for a in answers] == [f"p-k-{i}" for i in range(500)]
    assert len(peer.requests) == 500
    assert 2 <= peer.peak_in_flight <= 8
    print(f"500 single requests, window 8: {elapsed:.2f} s ({500 / elapsed:.0f} msg/s)")


def test_a_batch_body_carries_a_list_and_the_answers_follow_its_order() -> None:
    def respond(request: Request) -> Answer:
        items = request.json()["messages"]
        results = [
            {"ok": item["to"] != "+84900000000", "id": f"b-{item['ref']}", "err": "BAD"}
            for item in items
        ]
        return 200, {}, {"results": results}

    batch = [msg(i, sender="S") for i in range(120)]
    batch[7] = msg(7, to="+84900000000", sender="S")
    with serving(respond) as peer:
        answers = send(
            {
                "url": peer.url,
                "body": {"to": "{to}", "ref": "{key}"},
                "batch_size": 50,
                "batch_response_path": "results",
                "success_path": "ok",
                "success_value": "True",
                "error_path": "err",
            },
            batch,
        )
    # The three batches go concurrently: they may arrive in any order.
    assert sorted(len(r.json()["messages"]) for r in peer.requests) == [20, 50, 50]
    assert answers[7] == Submitted(7, "failed", code="BAD", error="HTTP 200 OK")
    assert [a.provider_id for a in answers if a.ref != 7] == [
        f"b-k-{i}" for i in range(120) if i != 7
    ]


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({}, "url", "Field required"),
        ({"url": "ftp://x"}, "url", "http:// or https://"),
        ({"url": "https://x", "auth": "bearer"}, "token", "needs a token"),
        ({"url": "https://x", "body": {"to": "{phone}"}}, "body", "unknown placeholder {phone}"),
        ({"url": "https://x", "window": 0}, "window", "greater than or equal to 1"),
        ({"url": "https://x", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        (
            {"url": "https://x", "webhook": {"status_map": {"OK": "done"}}},
            "webhook",
            "status_map['OK'] = 'done'",
        ),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(LoaError) as caught:
        HttpSmsChannel.from_settings(settings)
    assert caught.value.code == "http_sms.bad_setting"
    vi = caught.value.render("vi")
    assert vi.startswith(f"Cài đặt tuyến HTTP SMS sai ở '{field}")
    assert words in vi
