"""Reading customer spreadsheets as people really save them: CSV in any common encoding and
delimiter, or XLSX. Every cell comes back as text; nothing is guessed from the values here."""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from charset_normalizer import from_bytes

from loa.i18n import LoaError, Msg

LINE = "__loa_line"  # the spreadsheet line of each row: the header is line 1

NOT_FOUND = Msg(
    "import.not_found",
    "Không tìm thấy tệp {path}.",
    "File not found: {path}.",
)
UNREADABLE = Msg(
    "import.unreadable",
    "Không đọc được tệp {path}: {error}. Hãy lưu lại thành CSV (UTF-8) hoặc XLSX rồi thử lại.",
    "Cannot read {path}: {error}. Save it again as CSV (UTF-8) or XLSX and retry.",
)
EMPTY_FILE = Msg(
    "import.empty",
    "Tệp {path} không có dòng dữ liệu nào (cần một dòng tiêu đề và ít nhất một dòng).",
    "{path} has no data rows (a header line and at least one row are needed).",
)
LEGACY_ENCODING = Msg(
    "import.legacy_encoding",
    "Tệp không phải UTF-8: đã đọc theo bảng mã {encoding}. Hãy kiểm tra dấu tiếng Việt trong "
    "kết quả; nếu sai, lưu tệp dạng 'CSV UTF-8' rồi nhập lại.",
    "The file is not UTF-8: it was read as {encoding}. Check the Vietnamese accents in the "
    "result; if they are wrong, save the file as 'CSV UTF-8' and import again.",
)
RAGGED = Msg(
    "import.ragged",
    "Dòng {line} có {found} ô nhưng dòng tiêu đề có {expected} cột (dấu phân cách '{delimiter}'). "
    "Hãy đặt ô chứa dấu phân cách trong ngoặc kép hoặc xoá ô thừa.",
    "Line {line} has {found} cells but the header has {expected} columns (delimiter "
    "'{delimiter}'). Quote the cell that contains the delimiter or remove the extra cell.",
)
DUPLICATE_HEADER = Msg(
    "import.duplicate_header",
    "Cột '{header}' xuất hiện hai lần trong dòng tiêu đề; hãy đổi tên một cột.",
    "The column '{header}' appears twice in the header line; rename one of them.",
)

# Vietnamese legacy files are Windows-1258 or -1252 far more often than anything else.
_LEGACY_CANDIDATES = ["cp1258", "cp1252", "latin_1"]


@dataclass(slots=True)
class Sheet:
    """A spreadsheet read as text: one column per header plus the line number of each row."""

    frame: pl.DataFrame
    encoding: str
    warnings: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [c for c in self.frame.columns if c != LINE]


def _is_utf8(raw: bytes, chunk: int = 1 << 20) -> bool:
    # Decoding the whole file at once would hold a str up to 4x its size; check in slices.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for offset in range(0, len(raw), chunk):
            decoder.decode(view[offset : offset + chunk], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(raw: bytes) -> tuple[str, bool]:
    """The text encoding of `raw` and whether it is a legacy (non-Unicode) one."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", False
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", False
    if _is_utf8(raw):
        return "utf-8", False
    best = from_bytes(raw[:200_000], cp_isolation=_LEGACY_CANDIDATES).best()
    return (best.encoding if best else "cp1258"), True


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a CSV: whichever of , ; tab | the header line uses most."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_csv(path: Path) -> Sheet:
    """Read a CSV in UTF-8 (with or without BOM), UTF-16 or a legacy single-byte encoding."""
    raw = path.read_bytes()
    plain = _read_plain_utf8(raw)
    if plain is not None:
        return Sheet(_with_lines(plain, path), "utf-8")
    encoding, legacy = detect_encoding(raw)
    warnings = [LEGACY_ENCODING.render(encoding=encoding)] if legacy else []
    if encoding != "utf-8":
        # Legacy Vietnamese code pages store accents as combining marks: compose them.
        text = unicodedata.normalize("NFC", raw.decode(encoding))
        raw = text.encode("utf-8")
        sample = text[:20_000]
    else:
        sample = raw[:20_000].decode("utf-8", errors="ignore")
    delimiter = sniff_delimiter(sample.split("\n", 1)[0])
    try:
        frame = pl.read_csv(
            raw,
            separator=delimiter,
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        _raise_ragged(raw.decode("utf-8"), delimiter)
        raise LoaError(UNREADABLE, path=path, error=str(exc).splitlines()[0]) from exc
    return Sheet(_with_lines(frame, path), encoding, warnings)


def _read_plain_utf8(raw: bytes) -> pl.DataFrame | None:
    """The common case in one pass: a file without BOM that Polars reads as UTF-8 is UTF-8,
    since Polars checks every cell (not the header line: that is checked here). None when the
    file needs `detect_encoding` or `read_csv`'s explanation of what is wrong with it."""
    if raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    try:
        raw[: raw.find(b"\n") + 1 or len(raw)].decode("utf-8")
    except UnicodeDecodeError:
        return None
    sample = raw[:20_000].decode("utf-8", errors="ignore")
    try:
        return pl.read_csv(
            raw,
            separator=sniff_delimiter(sample.split("\n", 1)[0]),
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None


def _raise_ragged(text: str, delimiter: str) -> None:
    """Name the first line whose cell count differs from the header's, if there is one."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    expected = len(next(reader, []))
    for cells in reader:
        if cells and len(cells) != expected:
            raise LoaError(
                RAGGED,
                line=reader.line_num,
                found=len(cells),
                expected=expected,
                delimiter="tab" if delimiter == "\t" else delimiter,
            )


def read_xlsx(path: Path) -> Sheet:
    """Read the first sheet of an XLSX workbook, every cell as text."""
    try:
        frame = pl.read_excel(
            path, infer_schema_length=0, drop_empty_rows=False, raise_if_empty=False
        )
    except Exception as exc:  # fastexcel raises its own types for every kind of damage
        raise LoaError(UNREADABLE, path=path, error=str(exc).splitlines()[0]) from exc
    return Sheet(_with_lines(frame, path), "xlsx")


def _with_lines(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    headers = [h.strip() for h in frame.columns]
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise LoaError(DUPLICATE_HEADER, header=header)
        seen.add(header)
    # Rows that are blank everywhere are gaps in the sheet, not customers. Cells are trimmed
    # later, slice by slice (see `trimmed`): a trimmed copy of the whole sheet costs memory.
    blank = [pl.col(h).is_null() | pl.col(h).str.contains(r"^\s*$") for h in headers]
    frame = frame.rename(dict(zip(frame.columns, headers, strict=True))).with_row_index(
        LINE, offset=2
    )
    if headers:
        # A cell in the first column rules most rows out; only the others are checked whole.
        filled = frame.get_column(headers[0]).str.contains(r"\S").fill_null(False)
        maybe = frame.filter(~filled) if not filled.all() else frame.clear()
        gaps = maybe.filter(pl.all_horizontal(blank)).get_column(LINE)
        if gaps.len():
            frame = frame.filter(~pl.col(LINE).is_in(gaps.implode()))
    if frame.height == 0:
        raise LoaError(EMPTY_FILE, path=path)
    return frame


def trimmed(frame: pl.DataFrame) -> pl.DataFrame:
    """Cells without surrounding whitespace, empty cells as null, text in Unicode NFC."""
    headers = [h for h in frame.columns if h != LINE]
    out = frame.with_columns(pl.col(h).str.strip_chars().replace("", None) for h in headers)
    # Decomposed accents (macOS, legacy code pages) are rare; composing costs half a second
    # per million cells, so only columns that carry a combining mark pay for it.
    marked = out.select(pl.col(h).str.contains(r"\p{M}").any() for h in headers).row(0)
    decomposed = [h for h, has_mark in zip(headers, marked, strict=True) if has_mark]
    if decomposed:
        out = out.with_columns(pl.col(h).str.normalize("NFC") for h in decomposed)
    return out


def read_sheet(path: Path) -> Sheet:
    """Read a customer file, choosing the reader by its extension."""
    if not path.is_file():
        raise LoaError(NOT_FOUND, path=path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return read_xlsx(path)
    return read_csv(path)
