"""SMPP v3.4 PDUs, byte for byte as the specification lays them out, and the text codecs."""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from loa.channels.base import Outgoing, Receipt, Submitted
from loa.channels.smpp import pdu as P
from loa.channels.smpp.client import SmppChannel, _Batch
from loa.channels.smpp.receipts import is_receipt, parse_receipt, receipt_text
from loa.domain.text import GSM7_BASIC, GSM7_EXTENSION, count_segments

# --- PDUs -----------------------------------------------------------------------------------------


def test_bind_transceiver_bytes() -> None:
    # 4.1.5: system_id, password, system_type (C-strings), interface_version, addr_ton, addr_npi,
    # address_range; command_length counts the 16-octet header.
    body = P.bind_body(P.Bind("loa", "secret"))
    assert P.pdu(P.BIND_TRANSCEIVER, 1, body) == bytes.fromhex(
        """
        00000020 00000009 00000000 00000001
        6c6f6100 73656372657400 00 34 00 00 00
        """
    )


def test_submit_sm_bytes() -> None:
    sm = P.ShortMessage(
        source_ton=5,
        source_addr="LOA",
        dest_ton=1,
        dest_npi=1,
        destination_addr="84901234567",
        registered_delivery=1,
        short_message=P.gsm7_encode("Hello"),
    )
    # 4.4.1, field by field: service_type; source TON 5 (alphanumeric), NPI 0, "LOA"; dest TON 1,
    # NPI 1, "84901234567"; esm_class, protocol_id, priority_flag; schedule_delivery_time,
    # validity_period; registered_delivery, replace_if_present, data_coding, sm_default_msg_id,
    # sm_length; short_message.
    assert P.pdu(P.SUBMIT_SM, 2, P.short_message_body(sm)) == bytes.fromhex(
        """
        00000034 00000004 00000000 00000002
        00
        05 00 4c4f4100
        01 01 383439303132333435363700
        00 00 00
        00 00
        01 00 00 00 05
        48656c6c6f
        """
    )


def test_submit_sm_resp_and_error_without_body() -> None:
    ok = P.pdu(P.SUBMIT_SM_RESP, 2, P.message_id_body("7f3a"))
    assert ok == bytes.fromhex("00000015 80000004 00000000 00000002 3766336100")
    # 4.4.2: no body when command_status is not 0.
    throttled = P.pdu(P.SUBMIT_SM_RESP, 3, P.message_id_body("", P.ESME_RTHROTTLED), 0x58)
    assert throttled == bytes.fromhex("00000010 80000004 00000058 00000003")
    reader = P.PduReader()
    assert reader.feed(ok + throttled) == [
        (P.SUBMIT_SM_RESP, 0, 2, b"7f3a\0"),
        (P.SUBMIT_SM_RESP, 0x58, 3, b""),
    ]
    assert P.decode_message_id(b"7f3a\0") == "7f3a"
    assert P.decode_message_id(b"") == ""


def test_reader_joins_pdus_cut_anywhere() -> None:
    stream = b"".join(P.pdu(P.ENQUIRE_LINK, n) for n in range(1, 6)) + P.pdu(
        P.DELIVER_SM_RESP, 6, b"\0"
    )
    for cut in (1, 7, 16, 17, 33):
        reader = P.PduReader()
        got = []
        for at in range(0, len(stream), cut):
            got += reader.feed(stream[at : at + cut])
        assert [(c, s) for c, _, s, _ in got] == [(P.ENQUIRE_LINK, n) for n in range(1, 6)] + [
            (P.DELIVER_SM_RESP, 6)
        ]


def test_reader_refuses_an_impossible_length() -> None:
    with pytest.raises(P.PduError, match="command_length 8 is impossible"):
        P.PduReader().feed(bytes.fromhex("00000008000000150000000000000001"))


def test_deliver_sm_round_trip_with_tlvs() -> None:
    sm = P.ShortMessage(
        source_ton=1,
        source_npi=1,
        source_addr="84901234567",
        dest_ton=5,
        destination_addr="LOA",
        esm_class=0x04,
        tlvs={
            P.TAG_RECEIPTED_MESSAGE_ID: b"7f3a\0",
            P.TAG_MESSAGE_STATE: b"\x02",
            P.TAG_NETWORK_ERROR_CODE: b"\x03\x00\x00",
        },
    )
    body = P.short_message_body(sm)
    # sm_length 0; receipted_message_id "7f3a"; message_state 2 (DELIVERED); network_error_code:
    # type 3 (GSM), error 0.
    assert body.endswith(bytes.fromhex("00  001e 0005 3766336100  0427 0001 02  0423 0003 030000"))
    assert P.decode_short_message(body) == sm


def test_bind_round_trip() -> None:
    bind = P.Bind("loa", "pw", "VMA", 0x34, 1, 1, "849")
    assert P.decode_bind(P.bind_body(bind)) == bind


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (0x00, "ESME_ROK (0x00000000)"),
        (0x58, "ESME_RTHROTTLED (0x00000058)"),
        (0x14, "ESME_RMSGQFUL (0x00000014)"),
        (0x0B, "ESME_RINVDSTADR (0x0000000B)"),
        (0x0A, "ESME_RINVSRCADR (0x0000000A)"),
        (0x08, "ESME_RSYSERR (0x00000008)"),
        (0x0E, "ESME_RINVPASWD (0x0000000E)"),
        (0x400, "vendor-specific (0x00000400)"),
        (0x1234, "reserved (0x00001234)"),
    ],
)
def test_status_names(status: int, name: str) -> None:
    assert P.status_name(status) == name


@pytest.mark.parametrize(
    ("validity", "text"),
    [
        (timedelta(hours=2), "000000020000000R"),
        (timedelta(days=2, minutes=5, seconds=7), "000002000507000R"),
        (timedelta(seconds=0), "000000000001000R"),
        (timedelta(days=400), "000099235959000R"),
    ],
)
def test_relative_validity(validity: timedelta, text: str) -> None:
    assert P.relative_validity(validity) == text


# --- text -----------------------------------------------------------------------------------------


def test_gsm7_codes() -> None:
    assert P.gsm7_encode("@£$¥èé\nØ\r_ΔΞ Aa") == bytes.fromhex(
        "00 01 02 03 04 05 0a 0b 0d 11 10 1a 20 41 61"
    )
    assert P.gsm7_encode("ÄÖÑÜ§¿äöñüà") == bytes(range(0x5B, 0x61)) + bytes(range(0x7B, 0x80))
    # The extension table: ESC, then the character's code.
    assert P.gsm7_encode("€{}[~]|^\\\f") == bytes.fromhex(
        "1b65 1b28 1b29 1b3c 1b3d 1b3e 1b40 1b14 1b2f 1b0a"
    )


def test_gsm7_round_trip_of_the_whole_alphabet() -> None:
    text = GSM7_BASIC + GSM7_EXTENSION
    encoded = P.gsm7_encode(text)
    assert len(encoded) == len(GSM7_BASIC) + 2 * len(GSM7_EXTENSION)
    assert P.gsm7_decode(encoded) == text


@pytest.mark.parametrize(
    ("text", "bad"), [("Việt", "ệ"), ("`quoted`", "`"), ("tab\there", "\t"), ("emoji 😀", "😀")]
)
def test_gsm7_refuses_what_it_cannot_carry(text: str, bad: str) -> None:
    with pytest.raises(ValueError) as info:
        P.gsm7_encode(text)
    assert str(info.value) == f"not in the GSM 03.38 alphabet: {bad!r}"


def test_gsm7_decodes_unknown_and_trailing_escapes() -> None:
    assert P.gsm7_decode(b"\x1bA\x1b\x65") == "A€"
    assert P.gsm7_decode(b"ok\x1b") == "ok "


def test_decode_text_by_data_coding() -> None:
    assert P.decode_text("Việt 😀".encode("utf-16-be"), 8) == "Việt 😀"
    assert "😀".encode("utf-16-be").hex() == "d83dde00"  # a surrogate pair
    assert P.decode_text(b"caf\xe9", 3) == "café"
    assert P.decode_text(b"\x1b\x65 5", 0) == "€ 5"
    assert P.decode_text(b"\x00\x01", 4) == "\x00\x01"


def test_udh_bytes() -> None:
    udh = P.concat_udh(0x2A, 3, 1)
    assert udh.hex() == "0500032a0301"
    assert P.concat_info(udh) == (0x2A, 3, 1)
    assert P.concat_info(bytes.fromhex("06080401020302")) == (0x0102, 3, 2)
    assert P.concat_info(bytes.fromhex("022401")) is None


def _septets(part: bytes) -> bytes:
    return part[6:]


def test_long_gsm_parts_keep_escapes_whole() -> None:
    encoded = P.encode_message("a" * 152 + "€" + "b" * 10, ref=7)
    assert encoded.data_coding == 0
    assert encoded.esm_class == 0x40
    first, second = encoded.short_messages
    assert first[:6].hex() == "050003070201"
    assert second[:6].hex() == "050003070202"
    assert _septets(first) == b"a" * 152  # 153 would cut the ESC from its 0x65
    assert _septets(second) == b"\x1b\x65" + b"b" * 10


def test_single_part_limits() -> None:
    assert P.encode_message("x" * 160).short_messages == (b"x" * 160,)
    assert len(P.encode_message("x" * 161).short_messages) == 2
    assert len(P.encode_message("€" * 80).short_messages) == 1  # 160 septets
    assert [len(_septets(p)) for p in P.encode_message("€" * 81).short_messages] == [152, 10]
    ucs2 = P.encode_message("ệ" * 70)
    assert (ucs2.data_coding, ucs2.esm_class, len(ucs2.short_messages)) == (8, 0, 1)
    assert [len(p) - 6 for p in P.encode_message("ệ" * 71).short_messages] == [134, 8]


def test_long_ucs2_parts_never_split_a_surrogate_pair() -> None:
    encoded = P.encode_message("😀" * 36)  # 72 units: 33 emoji fill 66 units; a 34th needs 68
    assert [len(p) - 6 for p in encoded.short_messages] == [132, 12]
    assert [P.decode_text(p[6:], 8) for p in encoded.short_messages] == ["😀" * 33, "😀" * 3]


def test_payload_carries_the_whole_text_without_udh() -> None:
    text = "Chào chị Lan, đơn hàng #123 đã được giao. " * 5
    encoded = P.encode_message(text, use_payload=True)
    assert (encoded.data_coding, encoded.esm_class, encoded.short_messages) == (8, 0, ())
    assert encoded.payload == text.encode("utf-16-be")


PIECES = [
    "Xin chào ",
    "Nguyễn Thị Hương ",
    "giảm 50% ",
    "€",
    "{combo}",
    "[QC] ",
    "~",
    "^_^ ",
    "😀",
    "👨‍👩‍👧",
    "🇻🇳",
    "Đơn hàng #12345 ",
    "ok ",
    "a",
    "\\",
    "|",
    " ",
    "\n",
    "é",
    "Tiếng Việt có dấu ",
]


def _texts() -> list[str]:
    rng = random.Random(20240601)
    texts = ["a" * n for n in (152, 153, 154, 306, 307)]
    texts += ["€" * n for n in (76, 77, 153, 154)]
    texts += ["a" * 152 + "{" + "b" * 200, "ệ" * 67, "ệ" * 134, "ệ" * 135, "😀" * 100]
    texts.append(unicodedata.normalize("NFD", "Chào chị, Loa kính chúc một ngày tốt lành! " * 4))
    for _ in range(400):
        texts.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 90))))
    return texts


def test_parts_equal_the_planner_count_for_many_texts() -> None:
    for text in _texts():
        expected = count_segments(text)
        encoded = P.encode_message(text, ref=0x33)
        parts = encoded.short_messages
        assert len(parts) == expected.segments, text
        sent = unicodedata.normalize("NFC", text)
        if len(parts) == 1:
            assert P.decode_text(parts[0], encoded.data_coding) == sent
            continue
        decoded = []
        for seq, part in enumerate(parts, start=1):
            udh, data = P.split_udh(part)
            assert P.concat_info(udh) == (0x33, len(parts), seq)
            if encoded.data_coding == 0:
                assert len(data) <= 153 and not data.endswith(b"\x1b"), text
            else:
                assert len(data) <= 134, text
                assert not 0xD800 <= int.from_bytes(data[-2:], "big") <= 0xDBFF, text
            decoded.append(P.decode_text(data, encoded.data_coding))
        assert "".join(decoded) == sent


# --- how the channel addresses a message ----------------------------------------------------------


def _submit_sm(message: Outgoing, **settings: object) -> P.ShortMessage:
    channel = SmppChannel("127.0.0.1", 1, "loa", "pw", **settings)  # type: ignore[arg-type]
    return P.decode_short_message(channel._bodies(message)[0])


@pytest.mark.parametrize(
    ("sender", "ton", "npi", "addr"),
    [
        ("LOA SHOP", 5, 0, "LOA SHOP"),
        ("+84901234567", 1, 1, "84901234567"),
        ("84901234567", 1, 1, "84901234567"),
        ("8077", 3, 0, "8077"),
        (None, 0, 0, ""),
    ],
)
def test_source_address_by_sender(sender: str | None, ton: int, npi: int, addr: str) -> None:
    sm = _submit_sm(Outgoing(ref=1, key="k", to="+84901234567", text="Hi", sender=sender))
    assert (sm.source_ton, sm.source_npi, sm.source_addr) == (ton, npi, addr)
    assert (sm.dest_ton, sm.dest_npi, sm.destination_addr) == (1, 1, "84901234567")


def test_submit_sm_fields_from_the_message() -> None:
    message = Outgoing(
        ref=1, key="k", to="+84901234567", text="Hi", sender="LOA", validity=timedelta(hours=6)
    )
    sm = _submit_sm(message)
    assert (sm.validity_period, sm.registered_delivery, sm.data_coding) == (
        "000000060000000R",
        1,
        0,
    )
    assert sm.short_message == b"Hi"
    payload = _submit_sm(
        Outgoing(ref=1, key="k", to="+84901234567", text="x" * 200), use_payload=True
    )
    assert (payload.short_message, payload.tlvs) == (b"", {P.TAG_MESSAGE_PAYLOAD: b"x" * 200})


# --- receipts -------------------------------------------------------------------------------------


def _receipt_sm(
    text: str = "", tlvs: dict[int, bytes] | None = None, esm: int = 0x04
) -> P.ShortMessage:
    return P.ShortMessage(
        source_ton=1,
        source_addr="84901234567",
        esm_class=esm,
        short_message=text.encode("latin-1"),
        tlvs=tlvs or {},
    )


def test_text_receipt() -> None:
    raw = (
        "id:0a1b2c sub:001 dlvrd:000 submit date:2501011200 done date:2501011201 "
        "stat:UNDELIV err:027 text:Xin chao"
    )
    assert parse_receipt(_receipt_sm(raw), to="+84901234567") == Receipt(
        provider_id="0a1b2c",
        state="undelivered",
        to="+84901234567",
        code="027",
        done_at=datetime(2025, 1, 1, 12, 1, tzinfo=UTC),
        raw=raw,
    )


@pytest.mark.parametrize(
    ("raw", "provider_id", "state", "code", "done_at"),
    [
        ("ID:abc STAT:delivrd ERR:0", "abc", "delivered", "0", None),
        ("id:abc", "abc", "unknown", None, None),
        (
            "id:9 submit_date:250101120000 done_date:250101120105 stat:EXPIRED err:027",
            "9",
            "expired",
            "027",
            datetime(2025, 1, 1, 12, 1, 5, tzinfo=UTC),
        ),
        ("id:x sub:001 dlvrd:000 stat:REJECTD err:045 Text:spam", "x", "rejected", "045", None),
        ("id:x stat:ENROUTE", "x", "unknown", None, None),
        ("id:x stat:DELETED err:008", "x", "undelivered", "008", None),
    ],
)
def test_text_receipts_tolerate_case_and_gaps(
    raw: str, provider_id: str, state: str, code: str | None, done_at: datetime | None
) -> None:
    receipt = parse_receipt(_receipt_sm(raw))
    assert receipt is not None
    assert (receipt.provider_id, receipt.state, receipt.code, receipt.done_at) == (
        provider_id,
        state,
        code,
        done_at,
    )


def test_tlvs_win_over_the_text() -> None:
    sm = _receipt_sm(
        "id:TEXT-ID stat:DELIVRD err:000",
        {
            P.TAG_RECEIPTED_MESSAGE_ID: b"TLV-ID\0",
            P.TAG_MESSAGE_STATE: b"\x05",
            P.TAG_NETWORK_ERROR_CODE: b"\x03\x00\x1b",
        },
    )
    receipt = parse_receipt(sm)
    assert receipt is not None
    assert (receipt.provider_id, receipt.state, receipt.code) == ("TLV-ID", "undelivered", "027")


def test_tlv_only_receipt() -> None:
    sm = _receipt_sm(
        tlvs={P.TAG_RECEIPTED_MESSAGE_ID: b"7f3a\0", P.TAG_MESSAGE_STATE: b"\x08"}, esm=0
    )
    assert is_receipt(sm)
    assert parse_receipt(sm) == Receipt(
        provider_id="7f3a", state="rejected", raw="receipted_message_id=7f3a message_state=8"
    )


def test_a_message_from_a_phone_is_no_receipt() -> None:
    assert not is_receipt(_receipt_sm("TC", esm=0))
    assert parse_receipt(_receipt_sm("TC", esm=0x04)) is None  # names no message


def test_receipt_text_is_what_the_parser_reads() -> None:
    at = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
    text = receipt_text("abc", "expired", err="027", submitted_at=at, done_at=at, text="x" * 30)
    assert text == (
        "id:abc sub:001 dlvrd:000 submit date:2503040506 done date:2503040506 stat:EXPIRED "
        "err:027 text:" + "x" * 20
    )
    receipt = parse_receipt(_receipt_sm(text))
    assert receipt is not None and (receipt.state, receipt.code) == ("expired", "027")


# --- one answer per message from the answers to its parts -----------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([0, 0, 0], Submitted(7, "accepted", provider_id="id1", part_ids=("id2", "id3"))),
        (
            [0x58],
            Submitted(
                7, "retry", code="0x00000058", error="ESME_RTHROTTLED (0x00000058)", retry_after=1.0
            ),
        ),
        (
            [0x14],
            Submitted(
                7, "retry", code="0x00000014", error="ESME_RMSGQFUL (0x00000014)", retry_after=5.0
            ),
        ),
        (
            [0x0B, 0x0B],
            Submitted(7, "failed", code="0x0000000B", error="ESME_RINVDSTADR (0x0000000B)"),
        ),
        (
            [0, 0x58, 0],
            Submitted(
                7,
                "retry",
                code="0x00000058",
                error="ESME_RTHROTTLED (0x00000058); 2 of 3 parts were accepted and may reach "
                "the phone (id1, id3)",
                retry_after=1.0,
            ),
        ),
        (
            [0x58, 0x45],  # a permanent failure outweighs a transient one
            Submitted(7, "failed", code="0x00000045", error="ESME_RSUBMITFAIL (0x00000045)"),
        ),
    ],
)
def test_one_answer_per_message(statuses: list[int], expected: Submitted) -> None:
    batch = _Batch([len(statuses)])
    for part, status in enumerate(statuses):
        batch.answer(0, part, status, f"id{part + 1}" if status == 0 else "")
    message = Outgoing(ref=7, key="k", to="+84901234567", text="x")
    assert SmppChannel._answer(message, batch, 0) == expected
