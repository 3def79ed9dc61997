"""SmppChannel against real SMPP servers in their own processes: the sandbox SMSC and a foreign
one written with the npm `smpp` package (tests/peers)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest
from tests.integration.smpp_peers import Peer, start_npm_peer, start_sandbox

from loa.channels.base import ChannelDown, Inbound, Outgoing, Receipt, Submitted
from loa.channels.smpp.client import SmppChannel
from loa.channels.smsc_sim import SmscConfig, SmscSim
from loa.domain.text import count_segments
from loa.i18n import LoaError

__all__ = ["start_npm_peer", "start_sandbox"]  # fixtures, used by name (re-exported)

WAIT_S = 20.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def until(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def channel(peer: Peer | int, **settings: Any) -> SmppChannel:
    port = peer if isinstance(peer, int) else peer.port
    options: dict[str, Any] = {"window": 50, "source_addr": "LOA", **settings}
    return SmppChannel("127.0.0.1", port, "loa", "secret", **options)


def phone(i: int) -> str:
    return f"+849{i:08d}"


def texts(count: int) -> list[str]:
    """Short and long GSM-7 (with extension characters), long Vietnamese, emoji, decomposed."""
    kinds = [
        lambda i: f"Ma OTP cua ban la {i:06d}. Khong chia se ma nay.",
        lambda i: f"[QC] Uu dai {i}: giam 50% {{combo}} chi 99€ ~ [7h-22h] | ^_^ \\ " * 4,
        lambda i: (
            (
                f"Chào chị {i}, Loa xin thông báo: đơn hàng của chị đã được giao thành công. "
                "Cảm ơn chị đã mua sắm! Mọi thắc mắc xin gọi 1900 1234. "
            )
            * 2
        ),
        lambda i: f"🎉 Chúc mừng sinh nhật {i}! 🎂 Tặng bạn voucher giảm 20% 🎁 " * 3,
        lambda i: unicodedata.normalize("NFD", f"Nhắc lịch hẹn {i}: khám răng lúc 9h sáng mai."),
    ]
    return [kinds[i % len(kinds)](i) for i in range(count)]


def outgoing(count: int, start: int = 0) -> list[Outgoing]:
    return [
        Outgoing(ref=i, key=f"k{i}", to=phone(i), text=text)
        for i, text in zip(range(start, start + count), texts(start + count)[start:], strict=True)
    ]


def part_ids(answers: Sequence[Submitted]) -> set[str]:
    return {pid for a in answers if a.provider_id for pid in (a.provider_id, *a.part_ids)}


@pytest.fixture(params=["sandbox", "npm-smpp"])
def peer(
    request: pytest.FixtureRequest,
    start_sandbox: Callable[..., Peer],
    start_npm_peer: Callable[..., Peer],
) -> Peer:
    if request.param == "sandbox":
        return start_sandbox("--receipt-delay", "0.01", "0.1")
    return start_npm_peer(receipt_delay_ms=20)


# --- both servers ---------------------------------------------------------------------------------


def test_300_messages_arrive_exactly_and_each_part_gets_a_receipt(peer: Peer) -> None:
    messages = outgoing(300)
    receipts: list[Receipt] = []

    async def main() -> list[Submitted]:
        ch = channel(peer)
        ch.on_receipt(receipts.append)
        await ch.open()
        answers: list[Submitted] = []
        for at in range(0, len(messages), 100):
            answers += await ch.submit(messages[at : at + 100])
        ids = part_ids(answers)
        await until(lambda: {r.provider_id for r in receipts} >= ids, "every receipt")
        await ch.close()
        return answers

    answers = asyncio.run(main())
    assert [a.ref for a in answers] == list(range(300))
    assert {a.outcome for a in answers} == {"accepted"}
    lines = peer.journal_lines()
    by_dest: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_dest.setdefault(line["dest"], []).append(line)
    assert len(by_dest) == 300
    long_gsm = long_ucs2 = 0
    for message, answer in zip(messages, answers, strict=True):
        sent = unicodedata.normalize("NFC", message.text)
        segments = count_segments(message.text).segments
        assert 1 + len(answer.part_ids) == segments
        parts = sorted(by_dest[message.to[1:]], key=lambda line: line["part"] or 1)
        assert len(parts) == segments
        assert "".join(p["text"] for p in parts) == sent
        assert [p["message_id"] for p in parts] == [answer.provider_id, *answer.part_ids]
        if segments > 1:
            assert [(p["part"], p["total"]) for p in parts] == [
                (n, segments) for n in range(1, segments + 1)
            ]
            assert len({p["msg_key"] for p in parts}) == 1
            long_gsm += parts[0]["data_coding"] == 0
            long_ucs2 += parts[0]["data_coding"] == 8
    assert (long_gsm, long_ucs2) == (60, 120)
    assert {r.state for r in receipts} == {"delivered"}
    owner = {pid: a.ref for a in answers for pid in (a.provider_id, *a.part_ids)}
    assert all(r.to == phone(owner[r.provider_id]) for r in receipts)
    assert {r.code for r in receipts} == {"000"}


@pytest.mark.parametrize("kind", ["sandbox", "npm-smpp"])
def test_disconnect_mid_batch_answers_the_subset_then_reconnects(
    kind: str, start_sandbox: Callable[..., Peer], start_npm_peer: Callable[..., Peer]
) -> None:
    if kind == "sandbox":
        peer = start_sandbox("--disconnect-after", "30", "--receipt-delay", "0.01", "0.05")
    else:
        peer = start_npm_peer(disconnect_after=30, receipt_delay_ms=20)
    messages = [
        Outgoing(ref=i, key=f"k{i}", to=phone(i), text=f"Ma OTP {i:06d}") for i in range(60)
    ]
    receipts: list[Receipt] = []

    async def main() -> tuple[ChannelDown, list[Submitted], int]:
        ch = channel(peer, window=10)
        ch.on_receipt(receipts.append)
        await ch.open()
        with pytest.raises(ChannelDown) as info:
            await ch.submit(messages)
        down = info.value
        rest = [m for m in messages if m.ref not in {a.ref for a in down.answered}]
        again = await ch.submit(rest)
        ids = part_ids([*down.answered, *again])
        await until(lambda: {r.provider_id for r in receipts} >= ids, "every receipt")
        await ch.close()
        return down, again, ch.binds

    down, again, binds = asyncio.run(main())
    assert [a.ref for a in down.answered] == list(range(30))
    assert {a.outcome for a in down.answered} == {"accepted"}
    # Never written: a tail of the batch; between the answered and the unsent, at most one
    # window of messages was written and left unanswered.
    assert down.unsent == list(range(down.unsent[0], 60))
    assert 30 <= down.unsent[0] <= 40
    assert [a.ref for a in again] == list(range(30, 60))
    assert {a.outcome for a in again} == {"accepted"}
    assert binds == 2
    # The server took nothing it did not answer: one part per phone, no duplicates.
    assert sorted(line["dest"] for line in peer.journal_lines()) == [
        phone(i)[1:] for i in range(60)
    ]


# --- the sandbox's behaviours ---------------------------------------------------------------------


@pytest.mark.parametrize("receipts_as", ["text", "tlv", "both"])
def test_receipt_before_resp_reaches_the_handler_before_submit_returns(
    start_sandbox: Callable[..., Peer], receipts_as: str
) -> None:
    peer = start_sandbox("--receipt-before-resp", "--receipts-as", receipts_as)
    receipts: list[Receipt] = []

    async def main() -> tuple[list[Submitted], int]:
        ch = channel(peer)
        ch.on_receipt(receipts.append)
        await ch.open()
        answers = await ch.submit(outgoing(20))
        seen = len(receipts)
        await ch.close()
        return answers, seen

    answers, seen_when_submit_returned = asyncio.run(main())
    ids = part_ids(answers)
    assert seen_when_submit_returned == len(ids)
    assert {r.provider_id for r in receipts} == ids
    assert {(r.state, r.code) for r in receipts} == {("delivered", "000")}
    raw = receipts[0].raw
    if receipts_as == "tlv":
        assert raw == f"receipted_message_id={receipts[0].provider_id} message_state=2"
    else:
        assert raw.startswith(f"id:{receipts[0].provider_id} sub:001 dlvrd:001 submit date:")


def test_throttling_answers_retry_and_pacing_avoids_it(
    start_sandbox: Callable[..., Peer],
) -> None:
    peer = start_sandbox("--throttle-tps", "100")
    single = [Outgoing(ref=i, key=f"k{i}", to=phone(i), text=f"Ma OTP {i:06d}") for i in range(250)]

    async def main() -> tuple[list[Submitted], float, list[Submitted]]:
        paced = channel(peer, window=100, tps=80)
        await paced.open()
        started = time.monotonic()
        calm = await paced.submit(single[:120])
        took = time.monotonic() - started
        await paced.close()
        burst = channel(peer, window=250)
        await burst.open()
        hurried = await burst.submit(single)
        await burst.close()
        return calm, took, hurried

    calm, took, hurried = asyncio.run(main())
    assert {a.outcome for a in calm} == {"accepted"}
    assert took >= 1.4  # 120 at 80/s after a burst of 4
    retried = [a for a in hurried if a.outcome == "retry"]
    assert 100 <= len(retried) <= 200
    assert {(a.code, a.error, a.retry_after) for a in retried} == {
        ("0x00000058", "ESME_RTHROTTLED (0x00000058)", 1.0)
    }
    assert {a.outcome for a in hurried[:50]} == {"accepted"}


def test_invalid_destination_fails_with_its_code_and_the_same_numbers_every_time(
    start_sandbox: Callable[..., Peer],
) -> None:
    peer = start_sandbox("--reject-rate", "0.3", "--seed", "7")
    messages = outgoing(40)

    async def main() -> tuple[list[Submitted], list[Submitted]]:
        ch = channel(peer)
        await ch.open()
        first = await ch.submit(messages)
        second = await ch.submit(messages)
        await ch.close()
        return first, second

    first, second = asyncio.run(main())
    failed = [a.ref for a in first if a.outcome == "failed"]
    assert failed == [a.ref for a in second if a.outcome == "failed"]
    assert 4 <= len(failed) <= 24
    assert {a.outcome for a in first if a.ref not in failed} == {"accepted"}
    assert {(a.code, a.error, a.provider_id) for a in first if a.ref in failed} == {
        ("0x0000000B", "ESME_RINVDSTADR (0x0000000B)", None)
    }


def test_carrier_failures_and_an_mo_reply(start_sandbox: Callable[..., Peer]) -> None:
    peer = start_sandbox(
        "--fail", "Viettel=1", "--reply", "84901234567=TC", "--receipt-delay", "0.01", "0.05"
    )
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []

    async def main() -> list[Submitted]:
        ch = channel(peer)
        ch.on_receipt(receipts.append)
        ch.on_inbound(inbound.append)
        await ch.open()
        answers = await ch.submit(
            [
                Outgoing(ref=1, key="a", to="+84901234567", text="Ban co muon nhan uu dai?"),
                Outgoing(ref=2, key="b", to="+84961234567", text="Viettel number"),
            ]
        )
        await until(lambda: len(receipts) == 2 and len(inbound) == 1, "receipts and the MO")
        await ch.close()
        return answers

    answers = asyncio.run(main())
    state = {r.to: (r.state, r.code) for r in receipts}
    assert state["+84901234567"] == ("delivered", "000")  # MobiFone
    assert state["+84961234567"][0] == "undelivered"  # Viettel, failing at rate 1
    assert state["+84961234567"][1] in {"001", "027", "013", "032", "031"}
    assert [(m.phone, m.text, m.to) for m in inbound] == [("+84901234567", "TC", "LOA")]
    assert {a.outcome for a in answers} == {"accepted"}


def test_enquire_link_keeps_an_idle_bind_alive(start_sandbox: Callable[..., Peer]) -> None:
    peer = start_sandbox("--idle-timeout", "1")

    async def main() -> tuple[int, bool, int, Submitted]:
        lively = channel(peer, enquire_link_s=0.25)
        quiet = channel(peer, enquire_link_s=60)
        await lively.open()
        await quiet.open()
        await asyncio.sleep(2.6)
        answer = (await lively.submit(outgoing(1)))[0]
        result = (lively.binds, lively.connected, quiet.binds, answer)
        await lively.close()
        await quiet.close()
        return result

    lively_binds, lively_connected, quiet_binds, answer = asyncio.run(main())
    assert (lively_binds, lively_connected, answer.outcome) == (1, True, "accepted")
    assert quiet_binds >= 2  # dropped as idle, then bound again


def test_pair_bind_and_message_payload(start_sandbox: Callable[..., Peer]) -> None:
    peer = start_sandbox("--receipt-delay", "0.01", "0.05")
    receipts: list[Receipt] = []
    text = "Chào anh Minh, hợp đồng vay số 123 đến hạn ngày 15/7, số tiền 2.500.000đ. " * 3

    async def main() -> list[Submitted]:
        ch = channel(peer, bind="pair", use_payload=True)
        ch.on_receipt(receipts.append)
        await ch.open()
        answers = await ch.submit([Outgoing(ref=1, key="a", to=phone(1), text=text)])
        await until(lambda: len(receipts) == 1, "the receipt on the receiver bind")
        await ch.close()
        return answers

    answers = asyncio.run(main())
    assert (answers[0].outcome, answers[0].part_ids) == ("accepted", ())
    assert receipts[0].provider_id == answers[0].provider_id
    [line] = peer.journal_lines()
    assert (line["text"], line["part"], line["data_coding"]) == (text, None, 8)


def test_bind_refused_and_connection_refused(start_sandbox: Callable[..., Peer]) -> None:
    peer = start_sandbox("--system-id", "loa", "--password", "right")

    async def main() -> tuple[LoaError, ChannelDown]:
        ch = channel(peer)  # password "secret"
        with pytest.raises(LoaError) as refused:
            await ch.open()
        await ch.close()
        nobody = channel(peer.port, connect_timeout_s=5)
        peer.stop()
        with pytest.raises(ChannelDown) as down:
            await nobody.submit(outgoing(3))
        await nobody.close()
        return refused.value, down.value

    refused, down = asyncio.run(main())
    assert refused.render() == (
        f"SMSC 127.0.0.1:{peer.port} từ chối đăng nhập 'loa': ESME_RINVPASWD (0x0000000E). "
        "Kiểm tra system_id và mật khẩu nhà mạng cấp."
    )
    assert (down.answered, down.unsent) == ([], [0, 1, 2])
    assert down.reason.startswith(f"Cannot connect to the SMSC at 127.0.0.1:{peer.port}: ")


# --- in-process: MO from the sandbox's API, handlers that fail ----------------------------------


def test_send_mo_reaches_on_inbound_and_what_a_handler_fails_on_comes_again(
    tmp_path: Path,
) -> None:
    long_text = "Tôi muốn hủy đăng ký nhận tin khuyến mãi, xin cảm ơn. " * 6  # > 254 octets
    got: list[Inbound] = []
    calls = 0

    async def handler(message: Inbound) -> None:
        nonlocal calls
        calls += 1
        first = calls == 1
        await asyncio.sleep(0)
        if first:
            raise RuntimeError("the store is down")
        got.append(message)

    async def main() -> None:
        sim = SmscSim(SmscConfig(port=0, journal=tmp_path / "j.jsonl"))
        port = await sim.start()
        await sim.send_mo("+84987654321", "queued before any bind", to="8077", system_id="loa")
        ch = channel(port)
        ch.on_inbound(handler)
        await ch.open()
        await sim.send_mo("+84987654321", long_text, to="8077")
        await sim.send_mo("0912345678", "TC", to="LOA")
        await until(lambda: len(got) == 3, "three MO messages")
        assert ch.connected and ch.binds == 1
        # The first delivery was answered ESME_RX_T_APPN, so the SMSC sent it again.
        assert (sim.stats.mo, sim.stats.acked, sim.stats.refused) == (4, 3, 1)
        await ch.close()
        await sim.stop()

    asyncio.run(main())
    assert [(m.phone, m.text, m.to) for m in got] == [
        ("+84987654321", long_text, "8077"),
        ("+84912345678", "TC", "LOA"),
        ("+84987654321", "queued before any bind", "8077"),
    ]


def test_expired_receipts_as_text_and_tlv(start_sandbox: Callable[..., Peer]) -> None:
    peer = start_sandbox("--expire-rate", "1", "--receipts-as", "both", "--receipt-delay", "0", "0")
    receipts: list[Receipt] = []
    messages = [Outgoing(ref=i, key=f"k{i}", to=phone(i), text="Nhac lich hen") for i in range(3)]

    async def main() -> None:
        ch = channel(peer)
        ch.on_receipt(receipts.append)
        await ch.open()
        await ch.submit(messages)
        await until(lambda: len(receipts) == 3, "three receipts")
        await ch.close()

    asyncio.run(main())
    assert sorted((r.to, r.state, r.code) for r in receipts) == [
        (phone(0), "expired", "027"),
        (phone(1), "expired", "027"),
        (phone(2), "expired", "027"),
    ]
    assert " stat:EXPIRED err:027 text:Nhac lich hen" in receipts[0].raw


def test_the_sandbox_process_prints_its_stats_and_stops_cleanly(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loa.channels.smsc_sim",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--stats-every",
            "0.1",
            "--receipt-delay",
            "0",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not port_file.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        port = int(port_file.read_text())
        receipts: list[Receipt] = []

        async def main() -> None:
            ch = channel(port)
            ch.on_receipt(receipts.append)
            await ch.open()
            await ch.submit([Outgoing(ref=1, key="a", to=phone(1), text="Xin chao")])
            await until(lambda: len(receipts) == 1, "the receipt")
            await ch.close()
            await asyncio.sleep(0.3)  # a stats line or two

        asyncio.run(main())
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=WAIT_S)
    lines = output.decode().splitlines()
    assert process.returncode == 0
    assert lines[0] == f"SMSC giả lập đang nghe tại 127.0.0.1:{port} (Ctrl-C để dừng)."
    assert lines[-2:] == [
        "SMSC giả lập: 0 kết nối, 1/1 tin nhận, 0 từ chối, 0 vượt TPS; gửi 1 báo cáo và 0 tin "
        "đến, 1 đã xác nhận; delivered 1",
        "SMSC giả lập đã dừng.",
    ]
