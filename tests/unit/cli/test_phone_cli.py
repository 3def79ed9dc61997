"""`loa phone check` as an operator types it: exact JSON lines, a Vietnamese table by default,
exit 0 however many numbers are invalid, 2 on usage errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import loa.cli
from loa.cli import app
from loa.cli.common import console

Loa = Callable[..., Result]


@pytest.fixture
def loa_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Loa:
    """Runs `loa ...` away from any loa.toml or LOA_* setting of the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in ("LOA_LANG", "LOA_DEFAULT_REGION", "LOA_CONFIG", "LOA_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=stdin, env=env)

    return invoke


def _line(
    text: str,
    valid: bool,
    e164: str | None,
    kind: str | None,
    carrier: str | None,
    legacy: bool,
    reason: str | None,
) -> str:
    return json.dumps(
        {
            "input": text,
            "valid": valid,
            "e164": e164,
            "type": kind,
            "carrier": carrier,
            "legacy_converted": legacy,
            "reason": reason,
        },
        ensure_ascii=False,
    )


MIXED = ["0912345678", "+84 162 911 3610", "024 3825 1234", "abc", "8.49123E+10"]
NOT_A_NUMBER_VI = "Không phải số điện thoại: nhập các chữ số, ví dụ 0912345678."
NOT_A_NUMBER_EN = "Not a phone number: enter the digits, e.g. 0912345678."
SCIENTIFIC_VI = (
    "Excel đã đổi số này sang dạng khoa học (như 8.49123E+10) và làm mất chữ số: "
    "định dạng cột là Văn bản (Text) trong Excel rồi xuất lại tệp."
)
SCIENTIFIC_EN = (
    "Excel turned this number into scientific notation (like 8.49123E+10) and lost digits: "
    "format the column as Text in Excel and export the file again."
)


def test_json_gives_one_line_per_number_with_reasons_in_vietnamese(loa_cli: Loa) -> None:
    result = loa_cli("phone", "check", *MIXED, "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _line("0912345678", True, "+84912345678", "mobile", "VinaPhone", False, None),
        _line("+84 162 911 3610", True, "+84329113610", "mobile", "Viettel", True, None),
        _line("024 3825 1234", True, "+842438251234", "fixed_line", None, False, None),
        _line("abc", False, None, None, None, False, NOT_A_NUMBER_VI),
        _line("8.49123E+10", False, None, None, None, False, SCIENTIFIC_VI),
    ]


def test_lang_option_gives_english_reasons(loa_cli: Loa) -> None:
    result = loa_cli("--lang", "en", "phone", "check", "abc", "8.49123E+10", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _line("abc", False, None, None, None, False, NOT_A_NUMBER_EN),
        _line("8.49123E+10", False, None, None, None, False, SCIENTIFIC_EN),
    ]


def test_loa_lang_environment_gives_english_reasons(loa_cli: Loa) -> None:
    result = loa_cli("phone", "check", "0501234567", "--json", env={"LOA_LANG": "en"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _line(
            "0501234567",
            False,
            "+84501234567",
            "unknown",
            None,
            False,
            "This prefix is not in Vietnam's numbering plan: check the first digits "
            "(landlines moved to 02x in 2017).",
        )
    ]


def test_file_has_one_number_per_line_after_the_arguments(loa_cli: Loa, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.txt"
    # Excel's "CSV UTF-8" starts with a BOM and ends lines with CRLF.
    numbers.write_bytes("\ufeff0987654321\r\n\r\n912345678.0\r\n".encode())
    result = loa_cli("phone", "check", "0559123456", "--file", str(numbers), "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _line("0559123456", True, "+84559123456", "mobile", "Reddi", False, None),
        _line("0987654321", True, "+84987654321", "mobile", "Viettel", False, None),
        _line(
            "",
            False,
            None,
            None,
            None,
            False,
            "Ô trống: nhập số điện thoại hoặc bỏ dòng này.",
        ),
        _line("912345678.0", True, "+84912345678", "mobile", "VinaPhone", False, None),
    ]


def test_dash_reads_numbers_from_stdin(loa_cli: Loa) -> None:
    result = loa_cli("phone", "check", "-f", "-", "--json", stdin="01205423751\n0871234567\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _line("01205423751", True, "+84705423751", "mobile", "MobiFone", True, None),
        _line("0871234567", True, "+84871234567", "mobile", "Itel", False, None),
    ]


def test_national_numbers_are_read_in_the_configured_region(loa_cli: Loa) -> None:
    result = loa_cli("phone", "check", "(415) 555-2671", "--json", env={"LOA_DEFAULT_REGION": "us"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        _line("(415) 555-2671", True, "+14155552671", "fixed_line_or_mobile", None, False, None)
    ]


def test_table_in_vietnamese_by_default(loa_cli: Loa, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 88)
    result = loa_cli("phone", "check", "0912345678", "01629113610", "0912345", "[b]0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "┏━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┓",
        "┃   ┃ Số đã nhập  ┃ E.164        ┃ Loại     ┃ Nhà mạng gốc ┃ Lý do, ghi chú            ┃",
        "┡━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━┩",
        "│ ✓ │ 0912345678  │ +84912345678 │ di động  │ VinaPhone    │                           │",
        "│ ✓ │ 01629113610 │ +84329113610 │ di động  │ Viettel      │ Số 11 chữ số cũ, đã đổi   │",
        "│   │             │              │          │              │ sang số mới theo quy định │",
        "│   │             │              │          │              │ năm 2018.                 │",
        "│ ✗ │ 0912345     │ +840912345   │ không rõ │              │ Thiếu chữ số: số di động  │",
        "│   │             │              │          │              │ Việt Nam có 10 chữ số (0  │",
        "│   │             │              │          │              │ và 9 chữ số), số cố định  │",
        "│   │             │              │          │              │ có 11 (02x…). Kiểm tra    │",
        "│   │             │              │          │              │ xem có bị mất chữ số      │",
        "│   │             │              │          │              │ không.                    │",
        "│ ✗ │ [b]0        │              │          │              │ Không phải số điện thoại: │",
        "│   │             │              │          │              │ nhập các chữ số, ví dụ    │",
        "│   │             │              │          │              │ 0912345678.               │",
        "└───┴─────────────┴──────────────┴──────────┴──────────────┴───────────────────────────┘",
        "                    2/4 số hợp lệ, 1 số đã đổi từ 11 số sang 10 số.                     ",
    ]  # fmt: skip


def test_table_in_english_with_lang(loa_cli: Loa, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 88)
    result = loa_cli("--lang", "en", "phone", "check", "1800 1234", "N/A")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "┏━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━┓",
        "┃   ┃ Input     ┃ E.164       ┃ Type      ┃ Original carrier ┃ Reason, note            ┃",
        "┡━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━┩",
        "│ ✓ │ 1800 1234 │ +8418001234 │ toll-free │                  │                         │",
        "│ ✗ │ N/A       │             │           │                  │ Not a phone number:     │",
        "│   │           │             │           │                  │ enter the digits, e.g.  │",
        "│   │           │             │           │                  │ 0912345678.             │",
        "└───┴───────────┴─────────────┴───────────┴──────────────────┴─────────────────────────┘",
        "                1 of 2 numbers valid, 0 converted from 11 to 10 digits.                 ",
    ]  # fmt: skip


def test_unknown_option_is_a_usage_error(loa_cli: Loa) -> None:
    assert loa_cli("phone", "check", "0912345678", "--bogus").exit_code == 2


def _run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[object, str]:
    monkeypatch.setattr(sys, "argv", ["loa", *args])
    with pytest.raises(SystemExit) as stopped:
        loa.cli.main()
    return stopped.value.code, " ".join(capsys.readouterr().err.split())


def test_no_numbers_is_a_usage_error_in_vietnamese(
    loa_cli: Loa, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run_main(["phone", "check", "--json"], monkeypatch, capsys)
    assert code == 2
    assert err == (
        "✗ Chưa có số nào để kiểm tra: ghi số sau lệnh, hoặc dùng --file TỆP "
        "(--file - để đọc từ stdin)."
    )


def test_unreadable_file_is_a_usage_error_naming_the_fix(
    loa_cli: Loa, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run_main(
        ["--lang", "en", "phone", "check", "--file", "missing.txt"], monkeypatch, capsys
    )
    assert code == 2
    assert err == (
        "✗ Cannot read missing.txt: No such file or directory. "
        "Check the path and save the file as UTF-8 text."
    )
