"""`loa mms check`, `loa email render`, `loa push payload` as a marketer types them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from loa.cli import app
from loa.i18n import LoaError

runner = CliRunner()


def photo(path: Path, size: tuple[int, int]) -> Path:
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def test_mms_check_passes_small_files(tmp_path: Path) -> None:
    card = tmp_path / "shop.vcf"
    card.write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Shop\r\nEND:VCARD\r\n")
    logo = photo(tmp_path / "logo.png", (20, 20))
    result = runner.invoke(app, ["mms", "check", str(logo), str(card), "--text", "Chào bạn",
                                 "--carrier", "viettel", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["ok"], data["carrier"], data["limit_bytes"]) == (True, "Viettel", 512_000)
    assert [(p["content_id"], p["content_type"]) for p in data["parts"]] == [
        ("text.txt", "text/plain; charset=utf-8"),
        ("logo.png", "image/png"),
        ("shop.vcf", "text/vcard"),
    ]
    assert data["size_bytes"] == logo.stat().st_size + card.stat().st_size + len(
        "Chào bạn".encode()
    )


def test_mms_check_reports_a_big_image_and_shrinks_it(tmp_path: Path) -> None:
    big = photo(tmp_path / "banner.png", (700, 500))
    kb = -(-big.stat().st_size // 1024)
    refused = runner.invoke(app, ["mms", "check", str(big), "--max-kb", "100"])
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert f"✗ Tin MMS nặng {kb} KB, vượt giới hạn 100 KB của mặc định." in said
    assert f"✗ Ảnh banner.png nặng {kb} KB, một mình đã vượt giới hạn 100 KB" in said
    shrunk = runner.invoke(
        app, ["mms", "check", str(big), "--max-kb", "100", "--shrink", "--out-dir",
              str(tmp_path / "out"), "--json"]
    )  # fmt: skip
    assert shrunk.exit_code == 0, shrunk.output
    data = json.loads(shrunk.output)
    (item,) = data["shrunk"]
    written = Path(item["path"])
    assert written == tmp_path / "out" / "banner.mms.jpg"
    assert written.stat().st_size == item["after_bytes"] <= 100 * 1024
    assert data["parts"] == [
        {
            "content_id": "banner.jpg",
            "content_type": "image/jpeg",
            "size_bytes": item["after_bytes"],
        }
    ]


def test_mms_check_refuses_an_unknown_carrier_and_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mms", "check", str(tmp_path / "x.jpg"), "--carrier", "Foo"])
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        "Không biết nhà mạng 'Foo'. Các nhà mạng: Gmobile, Itel, MobiFone, Reddi, Vietnamobile, "
        "Viettel, VinaPhone."
    )
    result = runner.invoke(app, ["mms", "check", str(tmp_path / "x.jpg")])
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == f"Không tìm thấy tệp {tmp_path / 'x.jpg'}."


def test_email_render_prints_headers_and_both_parts(tmp_path: Path) -> None:
    html = tmp_path / "mail.html"
    html.write_text("<style>b{color:red}</style><p>Chào <b>{{ name | given }}</b></p>")
    result = runner.invoke(
        app,
        ["email", "render", "--subject", "Quà cho {{ name | given }}", "--html", str(html),
         "--to", "an@example.com", "--from", "Shop <news@shop.vn>", "--unsubscribe-url",
         "https://shop.vn/u/1", "--var", "name=Nguyễn Văn An", "--idempotency-key", "c1:2",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    headers = data["headers"]
    assert headers["Subject"] == "Quà cho An"
    assert headers["From"] == "Shop <news@shop.vn>"
    assert headers["List-Unsubscribe"] == "<https://shop.vn/u/1>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["X-Loa-Idempotency-Key"] == "c1:2"
    assert '<b style="color: red;">An</b>' in data["html"]
    assert data["text"] == (
        "Chào An\n\nKhông muốn nhận email này nữa? [Hủy đăng ký](https://shop.vn/u/1)\n"
    )


def test_email_render_names_a_missing_variable(tmp_path: Path) -> None:
    html = tmp_path / "mail.html"
    html.write_text("<p>{{ voucher_code }}</p>")
    result = runner.invoke(
        app, ["email", "render", "--subject", "Quà", "--html", str(html), "--to", "a@b.vn"]
    )
    assert isinstance(result.exception, LoaError)
    assert result.exception.code == "email.missing_variable"
    assert result.exception.params["variable"] == "voucher_code"


def test_push_payload_for_fcm_and_webpush() -> None:
    fcm = runner.invoke(app, ["push", "payload", "--title", "Sale", "--body", "Giảm 50%",
                              "--link", "shopapp://sale", "--topic", "news", "--json"])  # fmt: skip
    assert fcm.exit_code == 0, fcm.output
    data = json.loads(fcm.output)
    assert (data["target"], data["limit_bytes"]) == ("fcm", 4096)
    assert data["payload"]["message"]["topic"] == "news"
    assert data["payload"]["message"]["data"] == {"link": "shopapp://sale"}
    web = runner.invoke(app, ["push", "payload", "--title", "Sale", "--link", "https://shop.vn/s",
                              "--target", "webpush", "--json"])  # fmt: skip
    data = json.loads(web.output)
    assert data == {
        "target": "webpush",
        "size_bytes": 80,  # {"web_push":8030,"notification":{...}} written compactly
        "limit_bytes": 3993,
        "payload": {"web_push": 8030, "notification": {"title": "Sale",
                                                       "navigate": "https://shop.vn/s"}},
    }  # fmt: skip
    too_big = runner.invoke(app, ["push", "payload", "--title", "T", "--body", "x" * 4000,
                                  "--link", "https://shop.vn", "--target", "webpush"])  # fmt: skip
    assert isinstance(too_big.exception, LoaError)
    assert too_big.exception.code == "push.too_big"
