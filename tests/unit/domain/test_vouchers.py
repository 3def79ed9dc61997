"""Voucher codes: readable, unguessable, and every typo told apart from an unknown code."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from PIL import Image

from loa.domain.vouchers import (
    ALPHABET,
    BODY_CHARS,
    check_character,
    check_prefix,
    new_code,
    new_codes,
    normalize_code,
    qr_png,
    qr_svg,
)
from loa.i18n import LoaError

CODE = re.compile(r"TET-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")


def test_alphabet_leaves_out_the_confusable_characters() -> None:
    assert len(ALPHABET) == 31
    assert not set("01OIL") & set(ALPHABET)
    assert set(ALPHABET) == set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")


def test_codes_are_grouped_with_the_prefix_and_verify() -> None:
    codes = new_codes(2000, "tet")
    assert len(set(codes)) == 2000
    for code in codes:
        assert CODE.fullmatch(code), code
        assert normalize_code(code) == code
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", new_code())


def test_every_character_is_drawn_about_equally_often() -> None:
    # 11 random characters per code; the check character is excluded.
    drawn = Counter("".join(c.replace("-", "")[3:-1] for c in new_codes(20_000, "TET")))
    expected = 20_000 * 11 / 31
    assert set(drawn) == set(ALPHABET)
    assert all(abs(n - expected) < 0.08 * expected for n in drawn.values()), drawn


@pytest.mark.parametrize(
    "typed", ["tet-7kq4-m9xa-b3rv", " TET 7KQ4 M9XA B3RV ", "TET7KQ4M9XAB3RV", "tet_7kq4.m9xa-b3rv"]
)
def test_a_code_is_accepted_in_any_case_spacing_or_without_dashes(typed: str) -> None:
    assert check_character("7KQ4M9XAB3R") == "V"
    assert normalize_code(typed) == "TET-7KQ4-M9XA-B3RV"


def test_every_single_wrong_character_and_every_swap_is_caught() -> None:
    body = "7KQ4M9XAB3R"
    full = body + check_character(body)
    for i in range(BODY_CHARS):
        for c in ALPHABET:
            if c != full[i]:
                typo = full[:i] + c + full[i + 1 :]
                with pytest.raises(LoaError) as err:
                    normalize_code(typo)
                assert err.value.code == "vouchers.mistyped_check"
        for j in range(i + 1, BODY_CHARS):
            if full[i] != full[j]:
                swapped = list(full)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                with pytest.raises(LoaError) as err:
                    normalize_code("".join(swapped))
                assert err.value.code == "vouchers.mistyped_check"


def test_mistyped_codes_say_what_is_wrong_in_vietnamese() -> None:
    with pytest.raises(LoaError) as err:
        normalize_code("TET-7KQ4-M9XA-B3R")
    assert err.value.render() == (
        "Mã 'TET-7KQ4-M9XA-B3R' bị gõ sai: phần mã cần đúng 12 ký tự (không kể tiền tố và dấu "
        "'-'), đang có 11. Kiểm tra lại từng nhóm 4 ký tự."
    )
    with pytest.raises(LoaError) as err:
        normalize_code("TET7KQ4M9XAB3RVV")  # no dashes: only the check character can tell
    assert err.value.code == "vouchers.mistyped_check"
    with pytest.raises(LoaError) as err:
        normalize_code("TET-7KQ4-M9XA-B3R0")
    assert err.value.render() == (
        "Mã 'TET-7KQ4-M9XA-B3R0' bị gõ sai: mã không bao giờ chứa '0' (Loa không dùng số 0, 1 "
        "và chữ O, I, L vì dễ nhầm). Kiểm tra lại ký tự đó."
    )
    with pytest.raises(LoaError) as err:
        normalize_code("TET-7KQ4-M9XA-B3RW")
    assert err.value.render("en") == (
        "The code 'TET-7KQ4-M9XA-B3RW' is mistyped: its check character does not match, so one "
        "character is wrong or two are swapped. Read the code on the voucher again."
    )


def test_a_bad_prefix_is_refused() -> None:
    assert check_prefix(" noel ") == "NOEL"
    with pytest.raises(LoaError) as err:
        check_prefix("TẾT")
    assert err.value.render() == (
        "Tiền tố 'TẾT' không hợp lệ: dùng 1–8 chữ cái không dấu hoặc chữ số, ví dụ TET."
    )
    with pytest.raises(LoaError):
        new_codes(1, "TOOLONGPREFIX")


def test_qr_codes_are_png_and_svg() -> None:
    png = qr_png("TET-7KQ4-M9XA-B3RW", scale=4)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    # Version 1 QR (21 modules: 18 alphanumeric characters fit) plus a 4-module quiet zone on
    # each side, 4 px a module.
    assert image.size == ((21 + 8) * 4, (21 + 8) * 4)
    svg = qr_svg("TET-7KQ4-M9XA-B3RW")
    assert svg.startswith(b"<svg") and svg.rstrip().endswith(b"</svg>")
