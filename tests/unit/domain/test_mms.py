"""MMS: types read from bytes, the size limit with names and sizes, shrinking, the fallback."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from loa.domain.mms import (
    DEFAULT_MAX_SIZE_BYTES,
    KB,
    Mms,
    check_mms,
    detect_media,
    fallback_sms,
    hosted_page_url,
    max_size_for,
    media_part,
    ordered_parts,
    render_hosted_page,
    shrink_image,
    shrink_to_fit,
)
from loa.domain.text import count_segments
from loa.i18n import LoaError

VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Shop Hoa\r\nTEL:+84912345678\r\nEND:VCARD\r\n"


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), noisy: bool = False) -> bytes:
    """An image made here; noise makes it compress badly, like a photo."""
    mode = "RGBA" if fmt == "PNG" else "RGB"
    if noisy:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).convert(mode)
    else:
        image = Image.new(mode, size, (200, 30, 30))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        (image_bytes("JPEG"), "image/jpeg", "image"),
        (image_bytes("PNG"), "image/png", "image"),
        (image_bytes("GIF"), "image/gif", "image"),
        (b"#!AMR\n" + b"\x3c" * 40, "audio/amr", "audio"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 40, "audio/mpeg", "audio"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 40, "audio/mpeg", "audio"),  # MPEG-1 layer III frame
        (b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 40, "audio/aac", "audio"),  # ADTS
        (b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00isom3gp4", "video/3gpp", "video"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41", "video/mp4", "video"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom", "audio/mp4", "audio"),
        (VCARD, "text/vcard", "contact"),
        (b"\xef\xbb\xbfbegin:vcard\nVERSION:4.0\nEND:VCARD\n", "text/vcard", "contact"),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, content_type: str, kind: str) -> None:
    part = media_part("file.bin", data)
    assert (part.content_type, part.kind) == (content_type, kind)


def test_unsupported_and_empty_files_are_named() -> None:
    assert detect_media(b"%PDF-1.7\n") is None
    with pytest.raises(LoaError) as err:
        media_part("bang-gia.pdf", b"%PDF-1.7\n...")
    assert err.value.render() == (
        "Tệp bang-gia.pdf không phải định dạng MMS được hỗ trợ (JPEG, PNG, GIF, AMR, MP3, AAC, "
        "M4A, WAV, MIDI, 3GP, MP4, vCard (.vcf)). Hãy chuyển sang một trong các định dạng đó."
    )
    # A JPEG renamed .png is still a JPEG: the name is never trusted.
    assert media_part("anh.png", image_bytes("JPEG")).content_type == "image/jpeg"
    with pytest.raises(LoaError) as err:
        media_part("trong.jpg", b"")
    assert err.value.render() == "Tệp trong.jpg rỗng (0 byte)."


def test_a_message_within_the_limit_has_no_problems_and_ordered_parts() -> None:
    mms = Mms(
        subject="Khai trương",
        text="Mời bạn ghé cửa hàng mới!",
        parts=(
            media_part("Ảnh bìa.jpg", image_bytes("JPEG")),
            media_part("lien he.vcf", VCARD),
            media_part("Ảnh bìa.png", image_bytes("PNG")),
        ),
    )
    assert check_mms(mms) == []
    assert [(p.content_id, p.content_type) for p in ordered_parts(mms)] == [
        ("text.txt", "text/plain; charset=utf-8"),
        ("nh_b_a.jpg", "image/jpeg"),
        ("lien_he.vcf", "text/vcard"),
        ("nh_b_a.png", "image/png"),
    ]
    assert ordered_parts(mms)[0].data == "Mời bạn ghé cửa hàng mới!".encode()


def test_too_big_names_the_total_the_limit_and_the_image() -> None:
    big = media_part("banner.jpg", b"\xff\xd8\xff" + b"\x00" * (600 * KB - 3))
    small = media_part("logo.png", image_bytes("PNG"))
    mms = Mms(text="Sale", parts=(small, big))
    problems = check_mms(mms, max_size_bytes=DEFAULT_MAX_SIZE_BYTES, carrier="Viettel")
    total_kb = -(-mms.size_bytes // KB)
    assert [p.render() for p in problems] == [
        f"Tin MMS nặng {total_kb} KB, vượt giới hạn 500 KB của Viettel. Tệp lớn nhất: "
        "banner.jpg (600 KB). Nén ảnh (--shrink) hoặc bỏ bớt tệp.",
        "Ảnh banner.jpg nặng 600 KB, một mình đã vượt giới hạn 500 KB của Viettel. Nén lại "
        "(--shrink) hoặc dùng ảnh nhỏ hơn.",
    ]
    assert problems[1].render("en") == (
        "The image banner.jpg is 600 KB, alone over Viettel's limit of 500 KB. Shrink it "
        "(--shrink) or use a smaller image."
    )


def test_text_and_subject_limits_and_empty_message() -> None:
    problems = check_mms(Mms(subject="x" * 41, text="a" * 1601))
    assert [p.render() for p in problems] == [
        "Tiêu đề MMS dài 41 ký tự, tối đa 40 ký tự.",
        "Lời nhắn MMS dài 1601 ký tự, tối đa 1600 ký tự. Rút ngắn 1 ký tự.",
    ]
    assert check_mms(Mms(text="a" * 1600)) == []
    assert [p.code for p in check_mms(Mms())] == ["mms.empty"]


def test_limits_per_carrier_come_from_configuration() -> None:
    limits = {"default": 300 * KB, "Viettel": 600 * KB}
    assert max_size_for("viettel", limits) == 600 * KB
    assert max_size_for("MobiFone", limits) == 300 * KB
    assert max_size_for(None, None) == 500 * KB


def test_shrink_image_fits_the_limit_as_jpeg_and_keeps_the_shape() -> None:
    photo = media_part("ảnh.png", image_bytes("PNG", (900, 600), noisy=True))
    assert photo.size_bytes > 1000 * KB
    small = shrink_image(photo, 60 * KB)
    assert small.size_bytes <= 60 * KB
    assert (small.name, small.content_type) == ("ảnh.jpg", "image/jpeg")
    width, height = Image.open(io.BytesIO(small.data)).size
    assert width < 900 and abs(width / height - 1.5) < 0.01
    # Already small enough: the very same part comes back.
    assert shrink_image(small, 60 * KB) is small


def test_shrinking_that_cannot_reach_the_target_says_how_close_it_got() -> None:
    photo = media_part("anh.jpg", image_bytes("JPEG", (400, 400), noisy=True))
    with pytest.raises(LoaError) as err:
        shrink_image(photo, 2 * KB)
    assert err.value.code == "mms.cannot_shrink"
    assert err.value.render().startswith("Không nén được ảnh anh.jpg xuống 2 KB: nhỏ nhất đạt")
    assert err.value.render().endswith("Dùng ảnh đơn giản hơn hoặc bỏ bớt tệp khác.")


def test_animated_gifs_are_not_shrunk() -> None:
    part = media_part("chuc-tet.gif", animated_gif())
    with pytest.raises(LoaError) as err:
        shrink_image(part, 10)
    assert err.value.render() == (
        "Ảnh động chuc-tet.gif không nén lại được mà không mất chuyển động; hãy xuất lại GIF "
        "nhỏ hơn."
    )


def test_shrink_to_fit_shares_the_room_between_images() -> None:
    a = media_part("a.png", image_bytes("PNG", (700, 500), noisy=True))
    b = media_part("b.jpg", image_bytes("JPEG", (600, 400), noisy=True))
    card = media_part("c.vcf", VCARD)
    mms = Mms(text="Tết sale", parts=(a, card, b))
    fitted = shrink_to_fit(mms, max_size_bytes=200 * KB)
    assert fitted.size_bytes <= 200 * KB
    assert check_mms(fitted, max_size_bytes=200 * KB) == []
    assert [p.name for p in fitted.parts] == ["a.jpg", "c.vcf", "b.jpg"]
    assert fitted.parts[1] is card


def test_fallback_sms_fits_one_part_with_the_link() -> None:
    url = hosted_page_url("M.Shop.vn", "aB3xY9")
    assert url == "https://m.shop.vn/m/aB3xY9"
    mms = Mms(
        subject="Tết sum vầy",
        text="Giảm 30% toàn bộ hoa Tết tại Shop Hoa, chỉ từ 25/1 đến 10/2. Xem ảnh mẫu!",
    )
    sms = fallback_sms(mms, url=url)
    # UCS-2: 70 characters; the link and its space take 27, the ellipsis 1.
    assert sms == "Tết sum vầy Giảm 30% toàn bộ hoa Tết tại… https://m.shop.vn/m/aB3xY9"
    assert count_segments(sms).segments == 1
    # Unaccented text has room for 160 GSM-7 characters: nothing is cut.
    short = Mms(text="Xem anh mau hoa Tet tai day")
    assert fallback_sms(short, url=url) == "Xem anh mau hoa Tet tai day https://m.shop.vn/m/aB3xY9"
    assert fallback_sms(mms, url=url, max_parts=2).endswith("Xem ảnh mẫu! " + url)


def test_bad_page_links_are_refused() -> None:
    with pytest.raises(LoaError) as err:
        hosted_page_url("https://shop.vn/", "abcd")
    assert err.value.render() == (
        "Tên miền trang xem MMS 'https://shop.vn/' không hợp lệ: chỉ ghi tên miền, ví dụ "
        "'m.shop.vn'."
    )
    with pytest.raises(LoaError):
        hosted_page_url("shop.vn", "a/b")


def test_hosted_page_escapes_text_and_shows_each_part() -> None:
    mms = Mms(
        subject="<Khuyến mãi>",
        text='Giá "sốc" & quà',
        parts=(
            media_part("anh.jpg", image_bytes("JPEG")),
            media_part("nhac.mp3", b"ID3\x04" + b"\x00" * 20),
            media_part("clip.3gp", b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00isom3gp4"),
            media_part("shop.vcf", VCARD),
        ),
    )
    page = render_hosted_page(mms, media_urls={"anh.jpg": "https://cdn.shop.vn/a.jpg"})
    assert '<html lang="vi">' in page
    assert "<h1>&lt;Khuyến mãi&gt;</h1>" in page
    assert "<p>Giá &#34;sốc&#34; &amp; quà</p>" in page
    assert '<img src="https://cdn.shop.vn/a.jpg" alt="anh.jpg">' in page
    assert '<audio controls preload="metadata" src="data:audio/mpeg;base64,SUQzBA' in page
    assert '<video controls preload="metadata" src="data:video/3gpp;base64,' in page
    assert 'download="shop.vcf">Lưu danh bạ</a>' in page
    assert "Save contact" in render_hosted_page(mms, lang="en")
