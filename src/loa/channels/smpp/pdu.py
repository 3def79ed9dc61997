"""SMPP v3.4 PDUs: the few we need, encoded and decoded with `struct` and bytes joins.

Layout and numbers follow the SMPP v3.4 specification (Issue 1.2): section 3.2 (header),
4.1-4.7 (bind, unbind, submit_sm, deliver_sm, enquire_link, generic_nack), 5.1.3 (command
status), 5.3 (TLVs), 7.1 (time formats); the UDH is 3GPP TS 23.040 9.2.3.24.1.

Text is sent either in the GSM 03.38 default alphabet (data_coding 0, one septet per octet,
unpacked, extension characters behind an ESC 0x1B) or in UCS-2 (data_coding 8, UTF-16-BE, so a
character outside the BMP travels as a surrogate pair). A long text is split into the same parts
`loa.domain.text.analyze` shows the user, so the parts sent always equal the parts counted
(and charged) by the planner.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from datetime import timedelta

from loa.domain.text import GSM7, GSM7_BASIC, GSM7_EXTENSION, analyze

# --- command ids (5.1.2.1) ------------------------------------------------------------------------

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_RECEIVER_RESP = 0x80000001
BIND_TRANSMITTER = 0x00000002
BIND_TRANSMITTER_RESP = 0x80000002
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
RESPONSE_BIT = 0x80000000

COMMAND_NAMES: dict[int, str] = {
    GENERIC_NACK: "generic_nack",
    BIND_RECEIVER: "bind_receiver",
    BIND_RECEIVER_RESP: "bind_receiver_resp",
    BIND_TRANSMITTER: "bind_transmitter",
    BIND_TRANSMITTER_RESP: "bind_transmitter_resp",
    SUBMIT_SM: "submit_sm",
    SUBMIT_SM_RESP: "submit_sm_resp",
    DELIVER_SM: "deliver_sm",
    DELIVER_SM_RESP: "deliver_sm_resp",
    UNBIND: "unbind",
    UNBIND_RESP: "unbind_resp",
    BIND_TRANSCEIVER: "bind_transceiver",
    BIND_TRANSCEIVER_RESP: "bind_transceiver_resp",
    ENQUIRE_LINK: "enquire_link",
    ENQUIRE_LINK_RESP: "enquire_link_resp",
}
BINDS = (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER)

# --- command status (5.1.3) -----------------------------------------------------------------------

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RINVMSGID = 0x0C
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RINVESMCLASS = 0x43
ESME_RSUBMITFAIL = 0x45
ESME_RTHROTTLED = 0x58
ESME_RINVEXPIRY = 0x62
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65
ESME_RUNKNOWNERR = 0xFF

STATUS_NAMES: dict[int, str] = {
    0x00: "ESME_ROK",
    0x01: "ESME_RINVMSGLEN",
    0x02: "ESME_RINVCMDLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x06: "ESME_RINVPRTFLG",
    0x07: "ESME_RINVREGDLVFLG",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0C: "ESME_RINVMSGID",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID",
    0x11: "ESME_RCANCELFAIL",
    0x13: "ESME_RREPLACEFAIL",
    0x14: "ESME_RMSGQFUL",
    0x15: "ESME_RINVSERTYP",
    0x33: "ESME_RINVNUMDESTS",
    0x34: "ESME_RINVDLNAME",
    0x40: "ESME_RINVDESTFLAG",
    0x42: "ESME_RINVSUBREP",
    0x43: "ESME_RINVESMCLASS",
    0x44: "ESME_RCNTSUBDL",
    0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON",
    0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI",
    0x53: "ESME_RINVSYSTYP",
    0x54: "ESME_RINVREPFLAG",
    0x55: "ESME_RINVNUMMSGS",
    0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
    0x63: "ESME_RINVDFTMSGID",
    0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN",
    0x66: "ESME_RX_R_APPN",
    0x67: "ESME_RQUERYFAIL",
    0xC0: "ESME_RINVOPTPARSTREAM",
    0xC1: "ESME_ROPTPARNOTALLWD",
    0xC2: "ESME_RINVPARLEN",
    0xC3: "ESME_RMISSINGOPTPARAM",
    0xC4: "ESME_RINVOPTPARAMVAL",
    0xFE: "ESME_RDELIVERYFAILURE",
    0xFF: "ESME_RUNKNOWNERR",
}


def status_code(status: int) -> str:
    """The status as the 8-digit hex code providers print: 0x0000000B."""
    return f"0x{status:08X}"


def status_name(status: int) -> str:
    """The status by name and code: "ESME_RTHROTTLED (0x00000058)"."""
    name = STATUS_NAMES.get(status)
    if name is None:
        name = "vendor-specific" if 0x400 <= status <= 0x4FF else "reserved"
    return f"{name} ({status_code(status)})"


# --- TLV tags (5.3.2) -----------------------------------------------------------------------------

TAG_SC_INTERFACE_VERSION = 0x0210
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_NETWORK_ERROR_CODE = 0x0423
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_MESSAGE_STATE = 0x0427

# esm_class bits (5.2.12)
ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = 0x04

DC_DEFAULT = 0x00  # SMSC default alphabet: GSM 03.38 here
DC_IA5 = 0x01
DC_BINARY = 0x04
DC_LATIN1 = 0x03
DC_UCS2 = 0x08

INTERFACE_VERSION = 0x34
MAX_PDU_LENGTH = 65536  # far above any PDU we send; a larger length means a broken stream

HEADER = struct.Struct(">IIII")
_TLV_HEAD = struct.Struct(">HH")


class PduError(Exception):
    """The bytes are not a PDU we can read: the stream is broken or the peer is not SMPP."""

    def __init__(self, reason: str, status: int = ESME_RINVCMDLEN) -> None:
        super().__init__(reason)
        self.status = status


# --- the PDU bodies -------------------------------------------------------------------------------


@dataclass(slots=True)
class Bind:
    """bind_transmitter / bind_receiver / bind_transceiver (4.1)."""

    system_id: str
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(slots=True)
class ShortMessage:
    """The body submit_sm (4.4.1) and deliver_sm (4.6.1) share."""

    service_type: str = ""
    source_ton: int = 0
    source_npi: int = 0
    source_addr: str = ""
    dest_ton: int = 0
    dest_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def content(self) -> bytes:
        """The message bytes: short_message, or the message_payload TLV when that is used."""
        return self.short_message or self.tlvs.get(TAG_MESSAGE_PAYLOAD, b"")


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = ESME_ROK) -> bytes:
    """A whole PDU: the 16-byte header, then the body."""
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def _cstr(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


def encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    """TLVs in the order given: tag, length, value."""
    return b"".join(_TLV_HEAD.pack(tag, len(value)) + value for tag, value in tlvs.items())


def bind_body(bind: Bind) -> bytes:
    """The body of a bind_* PDU."""
    return b"".join(
        (
            _cstr(bind.system_id),
            _cstr(bind.password),
            _cstr(bind.system_type),
            bytes((bind.interface_version, bind.addr_ton, bind.addr_npi)),
            _cstr(bind.address_range),
        )
    )


def short_message_body(sm: ShortMessage) -> bytes:
    """The body of a submit_sm or deliver_sm PDU."""
    if len(sm.short_message) > 254:
        raise ValueError("short_message holds at most 254 octets; use message_payload")
    return b"".join(
        (
            _cstr(sm.service_type),
            bytes((sm.source_ton, sm.source_npi)),
            _cstr(sm.source_addr),
            bytes((sm.dest_ton, sm.dest_npi)),
            _cstr(sm.destination_addr),
            bytes((sm.esm_class, sm.protocol_id, sm.priority_flag)),
            _cstr(sm.schedule_delivery_time),
            _cstr(sm.validity_period),
            bytes(
                (
                    sm.registered_delivery,
                    sm.replace_if_present,
                    sm.data_coding,
                    sm.sm_default_msg_id,
                    len(sm.short_message),
                )
            ),
            sm.short_message,
            encode_tlvs(sm.tlvs) if sm.tlvs else b"",
        )
    )


def message_id_body(message_id: str, status: int = ESME_ROK) -> bytes:
    """The body of submit_sm_resp / deliver_sm_resp / bind_*_resp: one C-string.

    A submit_sm_resp with an error status carries no body (4.4.2)."""
    return b"" if status else _cstr(message_id)


# --- decoding -------------------------------------------------------------------------------------


def _read_cstr(body: bytes, pos: int) -> tuple[str, int]:
    end = body.find(b"\0", pos)
    if end < 0:
        raise PduError("a C-Octet String has no terminating NUL")
    return body[pos:end].decode("latin-1"), end + 1


def decode_tlvs(body: bytes, pos: int) -> dict[int, bytes]:
    """The TLVs from `pos` to the end of the body."""
    tlvs: dict[int, bytes] = {}
    end = len(body)
    while pos < end:
        if pos + 4 > end:
            raise PduError("a TLV is cut short", 0xC0)
        tag, length = _TLV_HEAD.unpack_from(body, pos)
        pos += 4
        if pos + length > end:
            raise PduError(f"TLV 0x{tag:04X} claims {length} octets past the end", 0xC2)
        tlvs[tag] = body[pos : pos + length]
        pos += length
    return tlvs


def decode_bind(body: bytes) -> Bind:
    """A bind_* body."""
    system_id, pos = _read_cstr(body, 0)
    password, pos = _read_cstr(body, pos)
    system_type, pos = _read_cstr(body, pos)
    if pos + 3 > len(body):
        raise PduError("a bind is cut short")
    version, ton, npi = body[pos], body[pos + 1], body[pos + 2]
    address_range, _ = _read_cstr(body, pos + 3)
    return Bind(system_id, password, system_type, version, ton, npi, address_range)


def decode_short_message(body: bytes) -> ShortMessage:
    """A submit_sm or deliver_sm body."""
    service_type, pos = _read_cstr(body, 0)
    source_ton, source_npi = body[pos], body[pos + 1]
    source_addr, pos = _read_cstr(body, pos + 2)
    dest_ton, dest_npi = body[pos], body[pos + 1]
    destination_addr, pos = _read_cstr(body, pos + 2)
    esm_class, protocol_id, priority_flag = body[pos], body[pos + 1], body[pos + 2]
    schedule, pos = _read_cstr(body, pos + 3)
    validity, pos = _read_cstr(body, pos)
    if pos + 5 > len(body):
        raise PduError("a short message PDU is cut short")
    registered, replace, data_coding, default_id, length = body[pos : pos + 5]
    pos += 5
    if pos + length > len(body):
        raise PduError("sm_length runs past the end of the PDU", ESME_RINVMSGLEN)
    short_message = body[pos : pos + length]
    tlvs = decode_tlvs(body, pos + length) if pos + length < len(body) else {}
    return ShortMessage(
        service_type,
        source_ton,
        source_npi,
        source_addr,
        dest_ton,
        dest_npi,
        destination_addr,
        esm_class,
        protocol_id,
        priority_flag,
        schedule,
        validity,
        registered,
        replace,
        data_coding,
        default_id,
        short_message,
        tlvs,
    )


def decode_message_id(body: bytes) -> str:
    """The C-string a *_resp body starts with ("" when the body is empty, as after an error)."""
    if not body:
        return ""
    end = body.find(b"\0")
    return body[: end if end >= 0 else len(body)].decode("latin-1")


class PduReader:
    """Cuts a TCP byte stream into PDUs."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, int, bytes]]:
        """(command_id, status, sequence, body) of every whole PDU received so far."""
        buffer = self._buffer
        buffer += data
        out: list[tuple[int, int, int, bytes]] = []
        pos = 0
        size = len(buffer)
        unpack = HEADER.unpack_from
        while size - pos >= 16:
            length, command_id, status, sequence = unpack(buffer, pos)
            if length < 16 or length > MAX_PDU_LENGTH:
                raise PduError(f"command_length {length} is impossible")
            if size - pos < length:
                break
            out.append((command_id, status, sequence, bytes(buffer[pos + 16 : pos + length])))
            pos += length
        if pos:
            del buffer[:pos]
        return out


# --- text -----------------------------------------------------------------------------------------

_ESC = 0x1B
# The basic table without its escape slot (loa.domain.text leaves it out: it is not a character).
_BASIC = GSM7_BASIC[:_ESC] + "\x1b" + GSM7_BASIC[_ESC:]
# GSM 03.38 extension table: the code behind the ESC for each of GSM7_EXTENSION's characters.
_EXTENSION_CODES = (0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65)

_GSM_ENCODE: dict[int, str] = {ord(c): chr(i) for i, c in enumerate(_BASIC) if i != _ESC}
_GSM_ENCODE.update(
    {ord(c): "\x1b" + chr(code) for c, code in zip(GSM7_EXTENSION, _EXTENSION_CODES, strict=True)}
)
# ASCII characters GSM-7 lacks map to a non-ASCII sentinel, so one `isascii` finds any of them.
_GSM_ENCODE.update({cp: "\x80" for cp in range(0x80) if cp not in _GSM_ENCODE})
_GSM_DECODE: dict[int, str] = {i: c for i, c in enumerate(_BASIC) if i != _ESC}
_GSM_DECODE_EXT: dict[str, str] = {
    _BASIC[code]: c for c, code in zip(GSM7_EXTENSION, _EXTENSION_CODES, strict=True)
}
_ESCAPED = re.compile("\x1b(.?)", re.DOTALL)


def gsm7_encode(text: str) -> bytes:
    """GSM 03.38 septets, one per octet; ValueError when a character has no GSM-7 code."""
    septets = text.translate(_GSM_ENCODE)
    if not septets.isascii():
        bad = sorted({c for c in text if ord(_GSM_ENCODE.get(ord(c), "\x80")[-1]) >= 0x80})
        raise ValueError(f"not in the GSM 03.38 alphabet: {''.join(bad)!r}")
    return septets.encode("ascii")


def _unescape(match: re.Match[str]) -> str:
    char = match.group(1)
    # An unknown escape shows the basic character (23.038 6.2.1.1); a trailing ESC a space.
    return _GSM_DECODE_EXT.get(char, char) if char else " "


def gsm7_decode(data: bytes) -> str:
    """Text from unpacked GSM 03.38 septets."""
    text = data.decode("latin-1").translate(_GSM_DECODE)
    return _ESCAPED.sub(_unescape, text) if "\x1b" in text else text


def decode_text(data: bytes, data_coding: int) -> str:
    """Text by data_coding: 0 GSM-7, 8 UCS-2, 3 Latin-1, 1 ASCII; binary as Latin-1, best effort."""
    scheme = data_coding
    if 0xF0 <= scheme <= 0xFF:  # GSM 03.38 coding group 1111: bit 2 says 8-bit data
        scheme = DC_BINARY if scheme & 0x04 else DC_DEFAULT
    if scheme == DC_DEFAULT:
        return gsm7_decode(data)
    if scheme == DC_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if scheme == DC_IA5:
        return data.decode("ascii", errors="replace")
    return data.decode("latin-1")


# --- long messages --------------------------------------------------------------------------------

UDH_CONCAT_8BIT = 0x00
UDH_CONCAT_16BIT = 0x08


def concat_udh(ref: int, total: int, seq: int) -> bytes:
    """The 6-octet UDH (UDHL 5) of part `seq` of `total`: IEI 0x00, 8-bit reference."""
    return bytes((5, UDH_CONCAT_8BIT, 3, ref & 0xFF, total, seq))


def split_udh(data: bytes) -> tuple[bytes, bytes]:
    """(UDH including its length octet, the rest) of a short_message sent with UDHI set."""
    if not data:
        return b"", b""
    end = data[0] + 1
    return data[:end], data[end:]


def concat_info(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, total, part) from a concatenation IE in the UDH, if it has one."""
    pos, end = 1, len(udh)
    while pos + 2 <= end:
        iei, length = udh[pos], udh[pos + 1]
        value = udh[pos + 2 : pos + 2 + length]
        if iei == UDH_CONCAT_8BIT and length == 3 and len(value) == 3:
            return value[0], value[1], value[2]
        if iei == UDH_CONCAT_16BIT and length == 4 and len(value) == 4:
            return (value[0] << 8) | value[1], value[2], value[3]
        pos += 2 + length
    return None


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text ready for submit_sm: one short_message per part, or one message_payload."""

    data_coding: int
    esm_class: int
    short_messages: tuple[bytes, ...]  # one per part; empty when `payload` carries the text
    payload: bytes | None = None
    text: str = ""  # the text as sent (NFC)


def encode_message(text: str, *, ref: int = 0, use_payload: bool = False) -> Encoded:
    """The text in its encoding, split into the parts `loa.domain.text.analyze` counts.

    GSM-7 parts hold at most 153 septets and never split an escape from its character; UCS-2
    parts at most 67 units and never split a surrogate pair (nor a grapheme, as the count).
    With `use_payload` the whole text goes in one message_payload TLV instead.
    """
    analysis = analyze(text)
    if analysis.encoding == GSM7:
        data_coding, encode = DC_DEFAULT, gsm7_encode
    else:
        data_coding, encode = DC_UCS2, _ucs2_encode
    if use_payload:
        return Encoded(data_coding, 0, (), encode(analysis.text), analysis.text)
    parts = analysis.parts
    if len(parts) == 1:
        return Encoded(data_coding, 0, (encode(parts[0]),), None, analysis.text)
    total = len(parts)
    if total > 255:
        raise ValueError(f"{total} parts: a concatenated SMS has at most 255")
    encoded = tuple(
        concat_udh(ref, total, seq) + encode(part) for seq, part in enumerate(parts, start=1)
    )
    return Encoded(data_coding, ESM_UDHI, encoded, None, analysis.text)


def _ucs2_encode(text: str) -> bytes:
    return text.encode("utf-16-be")


# --- time (7.1.1) ---------------------------------------------------------------------------------


def relative_validity(validity: timedelta) -> str:
    """A relative validity_period, "YYMMDDhhmmss000R"; at least a second, at most 99 days."""
    seconds = max(1, min(int(validity.total_seconds()), 99 * 86400 + 86399))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"
