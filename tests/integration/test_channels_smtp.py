"""Email over SMTP to a real SMTP server (aiosmtpd) on a free local port: what arrives, what
AUTH and STARTTLS do, and what each kind of reply means for a message."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Awaitable, Callable, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loa.channels.base import ChannelDown, Outgoing, Submitted
from loa.channels.smtp import SmtpChannel
from loa.domain.email import EmailTemplate, build_email
from loa.i18n import LoaError

UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://loa.example.vn/u/abc>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; some recipients get a scripted reply."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.replies = {
            "later@khach.vn": "451 4.7.1 try later",
            "nobody@khach.vn": "550 5.1.1 no such user",
        }
        self.drop_data = False
        self.servers: list[SmtpServer] = []

    async def handle_RCPT(
        self, server: SmtpServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        if self.drop_data:
            assert server.transport is not None
            server.transport.abort()
            return "250 never sent"
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 queued"


def good_login(
    server: SmtpServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"shop",
        b"m@tkhau",
    )
    return AuthResult(success=ok, handled=False)


async def serve(
    mailbox: Mailbox,
    tls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    **options: Any,
) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()

    def factory() -> SmtpServer:
        with warnings.catch_warnings():
            # aiosmtpd warns when AUTH is allowed without TLS, which these tests do on purpose
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            server = SmtpServer(
                mailbox, hostname="mx.test", tls_context=tls, ident="Loa test MX", **options
            )
        mailbox.servers.append(server)
        return server

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=implicit_tls)
    return server, server.sockets[0].getsockname()[1]


def run(
    scenario: Callable[[Mailbox], Awaitable[Any]], mailbox: Mailbox | None = None
) -> tuple[Any, Mailbox]:
    box = mailbox or Mailbox()
    return asyncio.run(scenario(box)), box


def email(ref: int, to: str = "lan@khach.vn", **extras: Any) -> Outgoing:
    return Outgoing(
        ref=ref,
        key=f"camp-7:{ref}",
        to=to,
        text=f"Chào {ref}, ưu đãi 20% cho bạn.",
        sender="Loa Shop <tin@shop.vn>",
        extras={"subject": "Ưu đãi tháng 3", "html": f"<p>Chào <b>{ref}</b></p>", **extras},
    )


async def send_to(
    port: int, batch: list[Outgoing], **settings: Any
) -> tuple[list[Submitted], SmtpChannel]:
    channel = SmtpChannel.from_settings({"host": "127.0.0.1", "port": port, **settings})
    await channel.open()
    try:
        return await channel.submit(batch), channel
    finally:
        await channel.close()


def test_the_message_arrives_with_subject_from_to_both_parts_and_unsubscribe_headers() -> None:
    async def scenario(box: Mailbox) -> list[Submitted]:
        server, port = await serve(box)
        async with server:
            answers, _ = await send_to(port, [email(1, headers=UNSUBSCRIBE)])
        return answers

    answers, box = run(scenario)
    assert len(box.received) == 1
    mail_from, rcpt_tos, message = box.received[0]
    assert (mail_from, rcpt_tos) == ("tin@shop.vn", ["lan@khach.vn"])
    assert message["Subject"] == "Ưu đãi tháng 3"
    assert message["From"] == "Loa Shop <tin@shop.vn>"
    assert message["To"] == "lan@khach.vn"
    assert message["List-Unsubscribe"] == "<https://loa.example.vn/u/abc>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Loa-Idempotency-Key"] == "camp-7:1"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == "Chào 1, ưu đãi 20% cho bạn.\r\n"
    assert html.get_content() == "<p>Chào <b>1</b></p>\r\n"
    assert answers == [Submitted(1, "accepted", provider_id=message["Message-ID"])]
    assert message["Message-ID"].endswith("@shop.vn>")


def test_the_message_id_is_the_same_for_a_resend_of_the_same_key() -> None:
    async def scenario(box: Mailbox) -> list[Submitted]:
        server, port = await serve(box)
        async with server:
            first, _ = await send_to(port, [email(1)])
            again, _ = await send_to(port, [email(1)])
        return [*first, *again]

    answers, box = run(scenario)
    assert answers[0].provider_id == answers[1].provider_id
    assert [m["Message-ID"] for _, _, m in box.received] == [answers[0].provider_id] * 2


def test_a_message_built_by_the_domain_is_sent_as_it_is() -> None:
    built = build_email(
        EmailTemplate(subject="Chào {{ name }}", html="<p>Xin chào {{ name }}</p>"),
        sender="Loa Shop <tin@shop.vn>",
        to="lan@khach.vn",
        unsubscribe_url="https://loa.example.vn/u/xyz",
        context={"name": "Lan"},
        idempotency_key="camp-7:9",
    )

    async def scenario(box: Mailbox) -> list[Submitted]:
        server, port = await serve(box)
        async with server:
            answers, _ = await send_to(port, [email(9, email=built)])
        return answers

    answers, box = run(scenario)
    message = box.received[0][2]
    assert message["Subject"] == "Chào Lan"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert answers == [Submitted(9, "accepted", provider_id=built["Message-ID"])]


def test_4xx_is_retried_5xx_fails_with_the_code_and_the_rest_still_go() -> None:
    async def scenario(box: Mailbox) -> list[Submitted]:
        server, port = await serve(box)
        async with server:
            answers, _ = await send_to(
                port,
                [email(1), email(2, to="later@khach.vn"), email(3, to="nobody@khach.vn"), email(4)],
            )
        return answers

    answers, box = run(scenario)
    assert [(a.ref, a.outcome, a.code, a.error) for a in answers] == [
        (1, "accepted", None, None),
        (2, "retry", "451", "4.7.1 try later"),
        (3, "failed", "550", "5.1.1 no such user"),
        (4, "accepted", None, None),
    ]
    assert [rcpt for _, rcpt, _ in box.received] == [["lan@khach.vn"], ["lan@khach.vn"]]


def test_a_bad_address_fails_that_message_without_a_transaction() -> None:
    async def scenario(box: Mailbox) -> list[Submitted]:
        server, port = await serve(box)
        async with server:
            answers, _ = await send_to(port, [email(1, to="not-an-address"), email(2)])
        return answers

    answers, box = run(scenario)
    assert answers[0].outcome == "failed" and answers[0].code == "bad-address"
    assert answers[0].error == (
        "Địa chỉ To 'not-an-address' không hợp lệ: cần dạng 'ten@mien.vn' hoặc 'Tên <ten@mien.vn>'."
    )
    assert answers[1].outcome == "accepted"
    assert len(box.received) == 1


def test_auth_with_good_credentials_sends_and_bad_ones_are_refused_in_both_languages() -> None:
    async def scenario(box: Mailbox) -> tuple[list[Submitted], LoaError]:
        server, port = await serve(
            box, authenticator=good_login, auth_required=True, auth_require_tls=False
        )
        async with server:
            answers, _ = await send_to(port, [email(1)], username="shop", password="m@tkhau")
            with pytest.raises(LoaError) as caught:
                await send_to(port, [email(2)], username="shop", password="wrong")
        return answers, caught.value

    (answers, error), box = run(scenario)
    assert answers[0].outcome == "accepted"
    assert len(box.received) == 1
    assert error.code == "smtp.auth_failed"
    assert error.render("vi").startswith("Máy chủ SMTP 127.0.0.1:")
    assert "từ chối đăng nhập 'shop': 535" in error.render("vi")
    assert "refused the login of 'shop': 535" in error.render("en")


def test_a_pool_of_connections_is_reused_across_batches() -> None:
    async def scenario(box: Mailbox) -> tuple[list[Submitted], int]:
        server, port = await serve(box)
        async with server:
            channel = SmtpChannel.from_settings({"host": "127.0.0.1", "port": port, "pool": 3})
            await channel.open()
            answers = await channel.submit([email(i) for i in range(30)])
            answers += await channel.submit([email(i) for i in range(30, 60)])
            await channel.close()
        return answers, channel.connects

    (answers, connects), box = run(scenario)
    assert [a.ref for a in answers] == list(range(60))
    assert {a.outcome for a in answers} == {"accepted"}
    assert connects == 3
    assert len(box.servers) == 3
    assert sorted(int(m["X-Loa-Idempotency-Key"].split(":")[1]) for _, _, m in box.received) == (
        list(range(60))
    )


def test_a_connection_closed_while_idle_is_reopened_without_losing_a_message() -> None:
    async def scenario(box: Mailbox) -> tuple[list[Submitted], int]:
        server, port = await serve(box)
        async with server:
            channel = SmtpChannel.from_settings({"host": "127.0.0.1", "port": port})
            await channel.open()
            answers = await channel.submit([email(1)])
            for peer in box.servers:
                assert peer.transport is not None
                peer.transport.close()  # the server's idle timeout
            await asyncio.sleep(0.05)
            answers += await channel.submit([email(2)])
            await channel.close()
        return answers, channel.connects

    (answers, connects), box = run(scenario)
    assert [(a.ref, a.outcome) for a in answers] == [(1, "accepted"), (2, "accepted")]
    assert connects == 2
    assert len(box.received) == 2


def test_a_drop_during_data_is_channel_down_and_that_message_is_not_called_unsent() -> None:
    async def scenario(box: Mailbox) -> ChannelDown:
        server, port = await serve(box)
        async with server:
            channel = SmtpChannel.from_settings({"host": "127.0.0.1", "port": port})
            await channel.open()
            await channel.submit([email(1)])
            box.drop_data = True
            with pytest.raises(ChannelDown) as caught:
                await channel.submit([email(2), email(3)])
            await channel.close()
        return caught.value

    down, _ = run(scenario)
    assert "connection lost during DATA" in down.reason
    assert down.answered == []
    assert down.unsent == [3]


def test_a_refused_connection_fails_to_open_and_is_channel_down_in_submit() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once it is closed

    async def scenario(box: Mailbox) -> tuple[LoaError, ChannelDown]:
        channel = SmtpChannel.from_settings({"host": "127.0.0.1", "port": port, "timeout_s": 5})
        with pytest.raises(LoaError) as opened:
            await channel.open()
        with pytest.raises(ChannelDown) as submitted:
            await channel.submit([email(1), email(2)])
        await channel.close()
        return opened.value, submitted.value

    (opened, down), _ = run(scenario)
    assert opened.code == "smtp.connect_failed"
    assert opened.render("vi").startswith(f"Không kết nối được máy chủ SMTP 127.0.0.1:{port}: ")
    assert down.answered == [] and down.unsent == [1, 2]


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def test_starttls_with_a_private_ca_then_auth(tmp_path: Path) -> None:
    context, cert_file = self_signed(tmp_path)

    async def scenario(box: Mailbox) -> tuple[list[Submitted], LoaError]:
        server, port = await serve(
            box, tls=context, require_starttls=True, authenticator=good_login, auth_required=True
        )
        async with server:
            answers, _ = await send_to(
                port,
                [email(1)],
                starttls=True,
                ca_file=str(cert_file),
                username="shop",
                password="m@tkhau",
            )
            with pytest.raises(LoaError) as untrusted:  # the system CAs do not know this one
                await send_to(port, [email(2)], starttls=True)
        return answers, untrusted.value

    (answers, untrusted), box = run(scenario)
    assert answers[0].outcome == "accepted"
    assert len(box.received) == 1
    assert untrusted.code == "smtp.connect_failed"
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.render("en")


def test_implicit_tls_with_a_private_ca(tmp_path: Path) -> None:
    context, cert_file = self_signed(tmp_path)

    async def scenario(box: Mailbox) -> list[Submitted]:
        server, port = await serve(box, implicit_tls=context)
        async with server:
            answers, _ = await send_to(port, [email(1)], tls=True, ca_file=str(cert_file))
        return answers

    answers, box = run(scenario)
    assert answers[0].outcome == "accepted"
    assert box.received[0][2]["Subject"] == "Ưu đãi tháng 3"


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({}, "host", "Field required"),
        ({"host": "x", "tls": True, "starttls": True}, "tls", "not both"),
        ({"host": "x", "username": "u"}, "password", "needs both"),
        ({"host": "x", "from_address": "shop"}, "from_address", "'shop'"),
        ({"host": "x", "pool": 0}, "pool", "greater than or equal to 1"),
        ({"host": "x", "tsl": True}, "tsl", "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_name_the_field(settings: Mapping[str, Any], field: str, words: str) -> None:
    with pytest.raises(LoaError) as caught:
        SmtpChannel.from_settings(settings)
    assert caught.value.code == "smtp.bad_setting"
    assert caught.value.render("vi").startswith(f"Cài đặt tuyến SMTP sai ở '{field}': ")
    assert words in caught.value.render("vi")
