"""MMS: a subject, up to 1,600 characters of text and media parts, within a carrier's size limit.

Each part's type is read from its bytes, never from its file name. The sniffing is written here
rather than taken from a library: carriers accept a small fixed set of formats, and the general
detectors we tried name them poorly (puremagic calls a 3GP video '.3g2', an MP3 with an ID3 tag
'Sprint Music Store audio', and gives AMR no MIME type); what matters here, such as 3GP vs MP4
(the `ftyp` brand), takes a few lines.

Sizes: 1 KB = 1,024 bytes, shown in whole KB rounded up. The limit applies to the content
(text in UTF-8 plus every media part); the SMIL and MMS headers the channel adds are small
(well under 1 KB).

Phones or routes without MMS get a fallback SMS instead: a short summary and a link to a hosted
page that shows the same content (`fallback_sms`, `render_hosted_page`).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Final, Literal

from jinja2 import Environment
from PIL import Image, ImageOps, UnidentifiedImageError

from loa.domain.text import count_segments
from loa.i18n import Lang, LoaError, Msg, current_lang

Kind = Literal["image", "audio", "video", "contact"]

KB: Final = 1024
DEFAULT_MAX_SIZE_BYTES: Final = 500 * KB
MAX_TEXT_CHARS: Final = 1600
MAX_SUBJECT_CHARS: Final = 40  # OMA MMS conformance: longer subjects are cut on many phones
TEXT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
ACCEPTED: Final = "JPEG, PNG, GIF, AMR, MP3, AAC, M4A, WAV, MIDI, 3GP, MP4, vCard (.vcf)"

# --- messages -------------------------------------------------------------------------------

UNSUPPORTED = Msg(
    "mms.unsupported",
    "Tệp {name} không phải định dạng MMS được hỗ trợ ({accepted}). Hãy chuyển sang một trong "
    "các định dạng đó.",
    "{name} is not a format MMS supports ({accepted}). Convert it to one of those.",
)
EMPTY_PART = Msg("mms.empty_part", "Tệp {name} rỗng (0 byte).", "{name} is empty (0 bytes).")
EMPTY = Msg(
    "mms.empty",
    "Tin MMS cần có nội dung: thêm lời nhắn hoặc ít nhất một tệp ảnh/âm thanh/video/danh bạ.",
    "An MMS needs content: add text or at least one image, audio, video or contact file.",
)
TEXT_TOO_LONG = Msg(
    "mms.text_too_long",
    "Lời nhắn MMS dài {chars} ký tự, tối đa {max} ký tự. Rút ngắn {over} ký tự.",
    "The MMS text is {chars} characters, at most {max}. Cut {over} characters.",
)
SUBJECT_TOO_LONG = Msg(
    "mms.subject_too_long",
    "Tiêu đề MMS dài {chars} ký tự, tối đa {max} ký tự.",
    "The MMS subject is {chars} characters, at most {max}.",
)
TOO_BIG = Msg(
    "mms.too_big",
    "Tin MMS nặng {size} KB, vượt giới hạn {limit} KB của {carrier}. Tệp lớn nhất: {largest} "
    "({largest_size} KB). Nén ảnh (--shrink) hoặc bỏ bớt tệp.",
    "The MMS is {size} KB, over {carrier}'s limit of {limit} KB. Largest file: {largest} "
    "({largest_size} KB). Shrink the images (--shrink) or leave some files out.",
)
IMAGE_TOO_BIG = Msg(
    "mms.image_too_big",
    "Ảnh {name} nặng {size} KB, một mình đã vượt giới hạn {limit} KB của {carrier}. Nén lại "
    "(--shrink) hoặc dùng ảnh nhỏ hơn.",
    "The image {name} is {size} KB, alone over {carrier}'s limit of {limit} KB. Shrink it "
    "(--shrink) or use a smaller image.",
)
CANNOT_SHRINK = Msg(
    "mms.cannot_shrink",
    "Không nén được ảnh {name} xuống {target} KB: nhỏ nhất đạt được là {best} KB ({width}×"
    "{height}). Dùng ảnh đơn giản hơn hoặc bỏ bớt tệp khác.",
    "Cannot shrink {name} to {target} KB: the smallest reached is {best} KB ({width}×{height}). "
    "Use a simpler image or leave other files out.",
)
ANIMATED = Msg(
    "mms.animated",
    "Ảnh động {name} không nén lại được mà không mất chuyển động; hãy xuất lại GIF nhỏ hơn.",
    "The animated image {name} cannot be shrunk without losing its animation; export a smaller "
    "GIF.",
)
NOT_AN_IMAGE = Msg(
    "mms.not_an_image",
    "Tệp {name} không đọc được như ảnh: {error}.",
    "{name} cannot be read as an image: {error}.",
)
BAD_LINK = Msg(
    "mms.bad_link",
    "Tên miền trang xem MMS '{domain}' không hợp lệ: chỉ ghi tên miền, ví dụ 'm.shop.vn'.",
    "The MMS page domain '{domain}' is not valid: give just the domain, e.g. 'm.shop.vn'.",
)
BAD_PAGE_CODE = Msg(
    "mms.bad_page_code",
    "Mã trang '{code}' không hợp lệ: dùng 4–32 chữ cái không dấu, chữ số, '-' hoặc '_'.",
    "The page code '{code}' is not valid: use 4–32 unaccented letters, digits, '-' or '_'.",
)
FALLBACK_NO_ROOM = Msg(
    "mms.fallback_no_room",
    "Đường dẫn {url} đã chiếm hết {parts} phần SMS: tăng số phần hoặc dùng tên miền ngắn hơn.",
    "The link {url} fills all {parts} SMS parts: allow more parts or use a shorter domain.",
)
PAGE_SAVE_CONTACT = Msg("mms.page.save_contact", "Lưu danh bạ", "Save contact")
PAGE_NO_MEDIA = Msg(
    "mms.page.no_media",
    "Trình duyệt không phát được tệp này.",
    "Your browser cannot play this file.",
)


# --- parts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaType:
    """What a part is, read from its bytes."""

    content_type: str
    kind: Kind
    extension: str


JPEG = MediaType("image/jpeg", "image", ".jpg")
PNG = MediaType("image/png", "image", ".png")
GIF = MediaType("image/gif", "image", ".gif")
AMR = MediaType("audio/amr", "audio", ".amr")
MP3 = MediaType("audio/mpeg", "audio", ".mp3")
AAC = MediaType("audio/aac", "audio", ".aac")
M4A = MediaType("audio/mp4", "audio", ".m4a")
WAV = MediaType("audio/wav", "audio", ".wav")
MIDI = MediaType("audio/midi", "audio", ".mid")
VIDEO_3GP = MediaType("video/3gpp", "video", ".3gp")
MP4 = MediaType("video/mp4", "video", ".mp4")
VCARD = MediaType("text/vcard", "contact", ".vcf")

_VCARD_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*BEGIN:VCARD\r?\n", re.IGNORECASE)


def _mpeg_audio_frame(data: bytes) -> bool:
    # An MPEG audio frame header: 11 sync bits, a valid version/layer and bitrate index.
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version, layer, bitrate = (data[1] >> 3) & 3, (data[1] >> 1) & 3, data[2] >> 4
    return version != 1 and layer != 0 and bitrate not in (0, 15)


def detect_media(data: bytes) -> MediaType | None:
    """The media type of `data` from its leading bytes, or None when MMS does not carry it."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return AMR
    if head.startswith(b"ID3"):
        return MP3
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"MThd"):
        return MIDI
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith((b"3gp", b"3g2", b"3ge", b"3gs")):
            return VIDEO_3GP
        if brand in (b"M4A ", b"M4B "):
            return M4A
        return MP4
    # ADTS AAC: sync 0xFFF with layer bits 00; MPEG audio frames have a non-zero layer.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return AAC
    if _mpeg_audio_frame(head):
        return MP3
    if _VCARD_START.match(head):
        return VCARD
    return None


@dataclass(frozen=True, slots=True)
class MediaPart:
    """One file of an MMS: its name as the user gave it, its bytes and its detected type."""

    name: str
    data: bytes
    media_type: MediaType

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    @property
    def content_type(self) -> str:
        return self.media_type.content_type

    @property
    def kind(self) -> Kind:
        return self.media_type.kind


def media_part(name: str, data: bytes) -> MediaPart:
    """A part from a file's name and bytes; a clear error when MMS cannot carry it."""
    if not data:
        raise LoaError(EMPTY_PART, name=name)
    found = detect_media(data)
    if found is None:
        raise LoaError(UNSUPPORTED, name=name, accepted=ACCEPTED)
    return MediaPart(name=name, data=data, media_type=found)


@dataclass(frozen=True, slots=True)
class Mms:
    """A multimedia message as the sender composed it."""

    subject: str = ""
    text: str = ""
    parts: tuple[MediaPart, ...] = ()

    @property
    def size_bytes(self) -> int:
        """The content's size: the text in UTF-8 and every media part."""
        return len(self.text.encode()) + sum(p.size_bytes for p in self.parts)


@dataclass(frozen=True, slots=True)
class OrderedPart:
    """A part as the channel lays it out: a content id, a content type and the bytes."""

    content_id: str
    content_type: str
    data: bytes


def ordered_parts(mms: Mms) -> list[OrderedPart]:
    """The parts in sending order: the text first (phones that show one part show the words),
    then the media in the order given. Content ids are unique, ASCII file names."""
    out: list[OrderedPart] = []
    used: set[str] = set()

    def content_id(name: str, extension: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", PurePath(name).stem).strip("_") or "part"
        candidate, n = f"{stem}{extension}", 1
        while candidate in used:
            n += 1
            candidate = f"{stem}_{n}{extension}"
        used.add(candidate)
        return candidate

    if mms.text:
        out.append(OrderedPart(content_id("text", ".txt"), TEXT_CONTENT_TYPE, mms.text.encode()))
    for part in mms.parts:
        out.append(
            OrderedPart(
                content_id(part.name, part.media_type.extension), part.content_type, part.data
            )
        )
    return out


# --- limits ---------------------------------------------------------------------------------


def _kb(size_bytes: int) -> int:
    """Whole KB, rounded up: a size over a limit never reads as equal to it."""
    return -(-size_bytes // KB)


def check_mms(
    mms: Mms, *, max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES, carrier: str = "default"
) -> list[LoaError]:
    """Every problem that stops the MMS from being sent; an empty list when it can go."""
    problems: list[LoaError] = []
    if not mms.text and not mms.parts:
        problems.append(LoaError(EMPTY))
    if len(mms.subject) > MAX_SUBJECT_CHARS:
        problems.append(LoaError(SUBJECT_TOO_LONG, chars=len(mms.subject), max=MAX_SUBJECT_CHARS))
    if len(mms.text) > MAX_TEXT_CHARS:
        problems.append(
            LoaError(
                TEXT_TOO_LONG,
                chars=len(mms.text),
                max=MAX_TEXT_CHARS,
                over=len(mms.text) - MAX_TEXT_CHARS,
            )
        )
    if mms.size_bytes > max_size_bytes:
        largest = max(mms.parts, key=lambda p: p.size_bytes, default=None)
        problems.append(
            LoaError(
                TOO_BIG,
                size=_kb(mms.size_bytes),
                limit=_kb(max_size_bytes),
                carrier=carrier,
                largest=largest.name if largest else "text",
                largest_size=_kb(largest.size_bytes if largest else len(mms.text.encode())),
            )
        )
        for part in mms.parts:
            if part.kind == "image" and part.size_bytes > max_size_bytes:
                problems.append(
                    LoaError(
                        IMAGE_TOO_BIG,
                        name=part.name,
                        size=_kb(part.size_bytes),
                        limit=_kb(max_size_bytes),
                        carrier=carrier,
                    )
                )
    return problems


def max_size_for(carrier: str | None, limits_bytes: Mapping[str, int] | None = None) -> int:
    """The size limit for a carrier: its own from `limits_bytes` (configuration), else the
    'default' entry there, else 500 KB."""
    limits = limits_bytes or {}
    if carrier is not None:
        for name, limit in limits.items():
            if name.casefold() == carrier.casefold():
                return limit
    return limits.get("default", DEFAULT_MAX_SIZE_BYTES)


# --- shrinking ------------------------------------------------------------------------------

_QUALITIES: Final = (85, 75, 65, 55, 45, 35)
_SCALE_STEP: Final = 0.8
_MIN_SIDE_PX: Final = 160


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def shrink_image(part: MediaPart, max_size_bytes: int) -> MediaPart:
    """The image re-compressed as JPEG to at most `max_size_bytes`: lower quality first, then
    smaller dimensions (80% a step). Transparency is flattened onto white; metadata (EXIF
    location included) is dropped, the EXIF orientation applied. A part that already fits is
    returned as it is."""
    if part.size_bytes <= max_size_bytes:
        return part
    try:
        with Image.open(io.BytesIO(part.data)) as opened:
            if getattr(opened, "is_animated", False):
                raise LoaError(ANIMATED, name=part.name)
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise LoaError(NOT_AN_IMAGE, name=part.name, error=exc) from exc
    if image.mode != "RGB":
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    best = b""
    while True:
        for quality in _QUALITIES:
            data = _encode_jpeg(image, quality)
            if not best or len(data) < len(best):
                best = data
            if len(data) <= max_size_bytes:
                name = str(PurePath(part.name).with_suffix(".jpg"))
                return MediaPart(name=name, data=data, media_type=JPEG)
        width, height = image.size
        if min(width, height) * _SCALE_STEP < _MIN_SIDE_PX:
            raise LoaError(
                CANNOT_SHRINK,
                name=part.name,
                target=_kb(max_size_bytes),
                best=_kb(len(best)),
                width=width,
                height=height,
            )
        size = (round(width * _SCALE_STEP), round(height * _SCALE_STEP))
        image = image.resize(size, Image.Resampling.LANCZOS)


def shrink_to_fit(
    mms: Mms, *, max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES, carrier: str = "default"
) -> Mms:
    """The MMS with its still images shrunk so the whole fits; each image gets a share of the
    room left by the text and other parts in proportion to its size."""
    if mms.size_bytes <= max_size_bytes:
        return mms
    shrinkable = [p for p in mms.parts if p.media_type in (JPEG, PNG) or _still_gif(p)]
    fixed = mms.size_bytes - sum(p.size_bytes for p in shrinkable)
    room = max_size_bytes - fixed
    total = sum(p.size_bytes for p in shrinkable)
    if not shrinkable or room <= 0:
        largest = max(mms.parts, key=lambda p: p.size_bytes, default=None)
        raise LoaError(
            TOO_BIG,
            size=_kb(mms.size_bytes),
            limit=_kb(max_size_bytes),
            carrier=carrier,
            largest=largest.name if largest else "text",
            largest_size=_kb(largest.size_bytes if largest else len(mms.text.encode())),
        )
    ids = {id(p) for p in shrinkable}
    parts = tuple(
        shrink_image(p, room * p.size_bytes // total) if id(p) in ids else p for p in mms.parts
    )
    return replace(mms, parts=parts)


def _still_gif(part: MediaPart) -> bool:
    if part.media_type is not GIF:
        return False
    with Image.open(io.BytesIO(part.data)) as image:
        return not getattr(image, "is_animated", False)


# --- fallback SMS and hosted page ------------------------------------------------------------

_DOMAIN = re.compile(r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_PAGE_CODE = re.compile(r"[A-Za-z0-9_-]{4,32}")


def hosted_page_url(domain: str, code: str) -> str:
    """`https://<domain>/m/<code>`: where the fallback SMS sends the reader."""
    host = domain.strip().lower()
    if not _DOMAIN.fullmatch(host):
        raise LoaError(BAD_LINK, domain=domain)
    if not _PAGE_CODE.fullmatch(code):
        raise LoaError(BAD_PAGE_CODE, code=code)
    return f"https://{host}/m/{code}"


def fallback_sms(mms: Mms, *, url: str, max_parts: int = 1) -> str:
    """The SMS for phones without MMS: the subject and text cut at a word to fit `max_parts`
    SMS parts together with the link, ending in '…' when cut."""
    summary = " ".join(" ".join(x for x in (mms.subject, mms.text) if x).split())

    def fits(words: str) -> bool:
        return count_segments(f"{words} {url}" if words else url).segments <= max_parts

    if not fits(""):
        raise LoaError(FALLBACK_NO_ROOM, url=url, parts=max_parts)
    if fits(summary):
        return f"{summary} {url}" if summary else url
    words = summary.split(" ")
    low, high = 0, len(words)  # the most words that fit with the ellipsis
    while low < high:
        mid = (low + high + 1) // 2
        if fits(" ".join(words[:mid]) + "…"):
            low = mid
        else:
            high = mid - 1
    head = " ".join(words[:low]).rstrip(",.;:-–")
    return f"{head}… {url}" if head else url


_PAGE = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>
body{margin:0 auto;max-width:640px;padding:16px;font:16px/1.5 system-ui,sans-serif;color:#222}
h1{font-size:1.3em}img,video{max-width:100%;height:auto;display:block;margin:12px 0}
audio{width:100%;margin:12px 0}p{white-space:pre-line}
a.contact{display:inline-block;padding:8px 16px;border:1px solid #888;border-radius:6px}
</style>
</head>
<body>
{% if subject %}<h1>{{ subject }}</h1>
{% endif %}{% if text %}<p>{{ text }}</p>
{% endif %}{% for p in parts %}{% if p.kind == "image" -%}
<img src="{{ p.src }}" alt="{{ p.name }}">
{% elif p.kind == "video" -%}
<video controls preload="metadata" src="{{ p.src }}">{{ no_media }}</video>
{% elif p.kind == "audio" -%}
<audio controls preload="metadata" src="{{ p.src }}">{{ no_media }}</audio>
{% else -%}
<p><a class="contact" href="{{ p.src }}" download="{{ p.name }}">{{ save_contact }}</a></p>
{% endif %}{% endfor %}</body>
</html>
"""
)


def render_hosted_page(
    mms: Mms, *, media_urls: Mapping[str, str] | None = None, lang: Lang | None = None
) -> str:
    """The HTML page the fallback link opens: subject, text, then each part (images shown,
    audio and video with players, contact cards to save). Media come from `media_urls`
    (part name -> URL), or are embedded as data: URIs so the page needs nothing else."""
    lang = lang or current_lang()
    parts: Sequence[dict[str, str]] = [
        {
            "kind": p.kind,
            "name": p.name,
            "src": (media_urls or {}).get(p.name)
            or f"data:{p.content_type};base64,{base64.b64encode(p.data).decode()}",
        }
        for p in mms.parts
    ]
    return _PAGE.render(
        lang=lang,
        title=mms.subject or mms.text[:60] or "MMS",
        subject=mms.subject,
        text=mms.text,
        parts=parts,
        save_contact=PAGE_SAVE_CONTACT.render(lang),
        no_media=PAGE_NO_MEDIA.render(lang),
    )
