"""`loa text` as a marketer or a script uses it: exact JSON, a JSON line per input line, the
panel with the cheaper text without accents, and brandname checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.cli.common import console
from loa.i18n import LoaError

Loa = Callable[..., Result]

VIETNAMESE_71 = "Khuyến mãi đặc biệt: giảm 30% toàn bộ sản phẩm tại Loa từ thứ Sáu này!!"


@pytest.fixture
def loa_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Loa:
    """Runs `loa ...` away from any loa.toml or LOA_* setting of the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in ("LOA_LANG", "LOA_CONFIG", "LOA_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(console, "width", 80)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=stdin)

    return invoke


def _json(
    text: str,
    encoding: str,
    segments: int,
    units: int,
    chars: list[int],
    replaced: list[list[str]] | None = None,
) -> str:
    return json.dumps(
        {
            "text": text,
            "encoding": encoding,
            "segments": segments,
            "units": units,
            "chars_per_segment": chars,
            "replaced": replaced or [],
        },
        ensure_ascii=False,
    )


def test_json_for_vietnamese_with_accents(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", VIETNAMESE_71, "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [_json(VIETNAMESE_71, "UCS-2", 2, 71, [67, 4])]


def test_json_without_accents(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", VIETNAMESE_71, "--unaccent", "--json")
    assert result.exit_code == 0, result.output
    unaccented = "Khuyen mai dac biet: giam 30% toan bo san pham tai Loa tu thu Sau nay!!"
    assert result.stdout.splitlines() == [_json(unaccented, "GSM-7", 1, 71, [71])]


def test_json_with_smart_encoding_lists_the_replacements(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", "[QC] “Sale” – 50%…", "--smart-encoding", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _json(
            '[QC] "Sale" - 50%...',
            "GSM-7",
            1,
            22,
            [20],
            [["“", '"'], ["”", '"'], ["–", "-"], ["…", "..."]],
        )
    ]


def test_json_reads_the_text_from_stdin_when_not_given(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", "--json", stdin="Xin chao {ten}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [_json("Xin chao {ten}", "GSM-7", 1, 16, [14])]


def test_jsonl_gives_one_result_per_input_line(loa_cli: Loa) -> None:
    lines = [
        json.dumps({"text": "Giam 50% hom nay"}),
        "",
        json.dumps({"text": "😀" + "a" * 69, "id": 7}, ensure_ascii=False),
        json.dumps({"text": "Đơn hàng đã giao"}, ensure_ascii=False),
    ]
    result = loa_cli("text", "info", "--jsonl", stdin="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _json("Giam 50% hom nay", "GSM-7", 1, 16, [16]),
        _json("😀" + "a" * 69, "UCS-2", 2, 71, [66, 4]),
        _json("Đơn hàng đã giao", "UCS-2", 1, 16, [16]),
    ]


def test_jsonl_applies_the_options_to_every_line(loa_cli: Loa) -> None:
    stdin = json.dumps({"text": "Đơn hàng đã giao"}, ensure_ascii=False) + "\n"
    result = loa_cli("text", "info", "--jsonl", "--unaccent", stdin=stdin)
    assert result.stdout.splitlines() == [_json("Don hang da giao", "GSM-7", 1, 16, [16])]


@pytest.mark.parametrize("bad", ['"just a string"', '{"message": "hi"}', '{"text": 5}', "{oops"])
def test_jsonl_names_the_bad_line_and_the_fix(loa_cli: Loa, bad: str) -> None:
    result = loa_cli("text", "info", "--jsonl", stdin='{"text": "ok"}\n' + bad + "\n")
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        'Dòng 2 của đầu vào không phải đối tượng JSON có "text" là chuỗi: viết mỗi dòng '
        'dạng {"text": "Nội dung tin nhắn"}.'
    )


def test_panel_offers_the_text_without_accents(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", VIETNAMESE_71)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "╭──────────────────────────────── Tin nhắn SMS ────────────────────────────────╮",
        "│ Mã hoá                 UCS-2: 70 đơn vị UTF-16 một tin, 67 mỗi phần khi ghép │",
        "│ Số tin                 2                                                     │",
        "│ Độ dài                 71 đơn vị UTF-16                                      │",
        "│ Còn trống ở tin cuối   63                                                    │",
        "│ Ký tự buộc dùng UCS-2  ế ã đ ặ ệ ả ộ ẩ ạ ừ ứ á                               │",
        "│                                                                              │",
        "│ Tin 1 (67 ký tự)                                                             │",
        "│ Khuyến mãi đặc biệt: giảm 30% toàn bộ sản phẩm tại Loa từ thứ Sáu n          │",
        "│ Tin 2 (4 ký tự)                                                              │",
        "│ ày!!                                                                         │",
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓",
        "┃ Có dấu: UCS-2, 2 tin                  ┃ Không dấu: GSM-7, 1 tin              ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩",
        "│ Tin 1 (67 ký tự)                      │ Tin 1 (71 ký tự)                     │",
        "│ Khuyến mãi đặc biệt: giảm 30% toàn bộ │ Khuyen mai dac biet: giam 30% toan   │",
        "│ sản phẩm tại Loa từ thứ Sáu n         │ bo san pham tai Loa tu thu Sau nay!! │",
        "│ Tin 2 (4 ký tự)                       │                                      │",
        "│ ày!!                                  │                                      │",
        "└───────────────────────────────────────┴──────────────────────────────────────┘",
        "→ Không dấu: 1 tin thay vì 2 (tiết kiệm 1 tin cho mỗi người nhận).",
    ]  # fmt: skip


def test_panel_in_english_shows_square_brackets_as_typed(loa_cli: Loa) -> None:
    result = loa_cli("--lang", "en", "text", "info", "[QC] “Sale” – 50% off…", "--smart-encoding")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "╭──────────────────────────────── SMS message ─────────────────────────────────╮",
        "│ Encoding                    GSM-7: 160 septets in one part, 153 per part     │",
        "│                             when split                                       │",
        "│ Parts                       1                                                │",
        "│ Length                      26 septets                                       │",
        "│ Room left in the last part  134                                              │",
        "│ Replaced                    '“' → '\"', '”' → '\"', '–' → '-', '…' → '...'     │",
        "│                                                                              │",
        "│ Part 1 (24 characters)                                                       │",
        '│ [QC] "Sale" - 50% off...                                                     │',
        "╰──────────────────────────────────────────────────────────────────────────────╯",
    ]  # fmt: skip


def test_panel_says_when_accents_cost_nothing(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", "Chào 😀")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == ("→ Không dấu cũng cần 1 tin: giữ dấu không tốn thêm.")


def test_valid_brandname(loa_cli: Loa) -> None:
    result = loa_cli("text", "brandname", "LOA.VN")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["✓ Brandname 'LOA.VN' hợp lệ (6/11 ký tự)."]


def test_invalid_brandname_is_a_domain_error_with_the_fix(loa_cli: Loa) -> None:
    result = loa_cli("text", "brandname", "Cà Phê Sữa")
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        "Brandname 'Cà Phê Sữa' có ký tự không được phép: 'à', 'ê', 'ữ'. Chỉ dùng chữ cái "
        "không dấu A–Z, a–z, chữ số 0–9, dấu cách, '-', '_' và '.'; ví dụ 'Ca Phe Sua'."
    )


def test_text_and_jsonl_together_is_refused(loa_cli: Loa) -> None:
    result = loa_cli("text", "info", "abc", "--jsonl", stdin="")
    assert isinstance(result.exception, LoaError)
    assert result.exception.code == "cli.text.text_and_jsonl"
