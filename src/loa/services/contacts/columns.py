"""Which spreadsheet column holds which contact field: common English and Vietnamese headers
are recognised, `--map column=field` overrides, and anything else becomes a custom attribute."""

from __future__ import annotations

from dataclasses import dataclass

from loa.domain.names import header_key
from loa.i18n import LoaError, Msg

# Fields a column can fill. `attrs.KEY` (custom attribute) and `ignore` are accepted too.
FIELDS = (
    "phone",
    "name",
    "email",
    "gender",
    "birthday",
    "province",
    "tags",
    "source",
    "customer_type",
    "consent_channel",
    "consent_purpose",
    "consent_method",
    "consent_date",
    "consent_evidence",
)

# Headers as `header_key` reduces them: accents folded, lower case, letters and digits only.
_KNOWN: dict[str, str] = {}
for _field, _headers in {
    "phone": "phone mobile mobilephone phonenumber cellphone cell tel telephone msisdn "
    "sdt sodienthoai dienthoai didong sodidong sdtdidong sodt sđt",
    "name": "name fullname customername customer contactname hoten hovaten ten khach "
    "tenkhachhang khachhang tenkh hotenkhachhang",
    "email": "email emailaddress mail thudientu diachiemail",
    "gender": "gender sex gioitinh",
    "birthday": "birthday birthdate dateofbirth dob ngaysinh sinhnhat ngaythangnamsinh",
    "province": "province city provincecity region tinh thanhpho tinhthanh tinhthanhpho "
    "tinhtp khuvuc",
    "tags": "tags tag labels label nhan the phanloai",
    "source": "source channelsource nguon nguonkhach",
    "customer_type": "customertype loaikhach loaikhachhang",
    "consent_channel": "consentchannel kenhdongy",
    "consent_purpose": "consentpurpose mucdichdongy",
    "consent_method": "consentmethod cachdongy hinhthucdongy",
    "consent_date": "consentdate consentat ngaydongy",
    "consent_evidence": "consentevidence bangchungdongy",
}.items():
    for _h in _headers.split():
        _KNOWN[header_key(_h)] = _field

NO_PHONE_COLUMN = Msg(
    "import.no_phone_column",
    "Không tìm thấy cột số điện thoại trong các cột: {headers}. Hãy chỉ rõ, ví dụ "
    '--map "{example}=phone".',
    'No phone column among: {headers}. Name it, e.g. --map "{example}=phone".',
)
BAD_MAP = Msg(
    "import.bad_map",
    "--map '{spec}' không hợp lệ: cần dạng cột=trường, ví dụ --map \"Di động=phone\".",
    "--map '{spec}' is not valid: use column=field, e.g. --map \"Mobile=phone\".",
)
MAP_UNKNOWN_COLUMN = Msg(
    "import.map_unknown_column",
    "--map nhắc tới cột '{column}' nhưng tệp không có cột này. Các cột: {headers}.",
    "--map names the column '{column}' but the file has no such column. Columns: {headers}.",
)
MAP_UNKNOWN_FIELD = Msg(
    "import.map_unknown_field",
    "Trường '{field}' không có. Dùng một trong: {fields}, attrs.TÊN hoặc ignore.",
    "There is no field '{field}'. Use one of: {fields}, attrs.NAME or ignore.",
)
FIELD_TWICE = Msg(
    "import.field_twice",
    "Hai cột cùng ứng với trường '{field}': '{first}' và '{second}'. Dùng --map để bỏ một cột "
    '(--map "{second}=ignore").',
    "Two columns map to the field '{field}': '{first}' and '{second}'. Use --map to drop one "
    '(--map "{second}=ignore").',
)


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """field -> header for known fields; attribute key -> header for custom attributes."""

    fields: dict[str, str]
    attributes: dict[str, str]
    ignored: tuple[str, ...]


def parse_map_options(specs: list[str]) -> dict[str, str]:
    """`["Di động=phone"]` -> `{"Di động": "phone"}`, with a clear error for a bad spec."""
    result: dict[str, str] = {}
    for spec in specs:
        column, sep, target = spec.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise LoaError(BAD_MAP, spec=spec)
        result[column.strip()] = target.strip()
    return result


def map_columns(headers: list[str], overrides: dict[str, str] | None = None) -> ColumnMap:
    """Decide what each header holds; headers starting with `loa_` are Loa's own notes."""
    overrides = overrides or {}
    for column in overrides:
        if column not in headers:
            raise LoaError(MAP_UNKNOWN_COLUMN, column=column, headers=", ".join(headers))
    fields: dict[str, str] = {}
    attributes: dict[str, str] = {}
    ignored: list[str] = []
    for header in headers:
        target = overrides.get(header)
        if target is None:
            if header.startswith("loa_"):
                ignored.append(header)
                continue
            target = _KNOWN.get(header_key(header), f"attrs.{header}")
        if target == "ignore":
            ignored.append(header)
        elif target.startswith("attrs."):
            attributes[target.removeprefix("attrs.")] = header
        elif target in FIELDS:
            if target in fields:
                raise LoaError(FIELD_TWICE, field=target, first=fields[target], second=header)
            fields[target] = header
        else:
            raise LoaError(MAP_UNKNOWN_FIELD, field=target, fields=", ".join(FIELDS))
    if "phone" not in fields:
        example = headers[0] if headers else "SĐT"
        raise LoaError(NO_PHONE_COLUMN, headers=", ".join(headers), example=example)
    return ColumnMap(fields, attributes, tuple(ignored))
