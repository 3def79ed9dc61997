"""Vietnam as the sample generator sees it: names, provinces and mobile numbering, with weights.

Weights are relative (they need not sum to 100). Sources: name frequencies from published
surveys of Vietnamese family names (Nguyễn ~38%); provinces are the 34 units in force since
1 July 2025 (Resolution 202/2025/QH15) with 2024 population in thousands; numbering blocks from
the Ministry's 2018 plan, narrowed to the ranges `phonenumbers` accepts so generated numbers
validate everywhere.
"""

from __future__ import annotations

from typing import Final

Weighted = tuple[tuple[str, float], ...]

FAMILY_NAMES: Final[Weighted] = (
    ("Nguyễn", 38.4),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Hoàng", 3.1),
    ("Huỳnh", 2.1),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.6),
    ("Trương", 0.6),
    ("Lâm", 0.4),
    ("Mai", 0.4),
    ("Đoàn", 0.4),
    ("Trịnh", 0.3),
    ("Lương", 0.3),
    ("Cao", 0.3),
    ("Hà", 0.3),
    ("Lưu", 0.2),
    ("Tô", 0.2),
    ("Tạ", 0.2),
    ("Châu", 0.2),
    ("Thái", 0.2),
    ("Vương", 0.1),
    ("Kiều", 0.1),
    ("Quách", 0.1),
    ("Triệu", 0.1),
    ("La", 0.1),
)

MIDDLE_NAMES_MALE: Final[Weighted] = (
    ("Văn", 30),
    ("Minh", 10),
    ("Hữu", 8),
    ("Đức", 8),
    ("Quang", 7),
    ("Thanh", 6),
    ("Công", 5),
    ("Đình", 4),
    ("Quốc", 4),
    ("Xuân", 4),
    ("Hoàng", 4),
    ("Ngọc", 3),
    ("Anh", 3),
    ("Tuấn", 3),
    ("Thành", 3),
    ("Trọng", 3),
    ("Gia", 3),
    ("Duy", 3),
    ("Tiến", 2),
    ("Mạnh", 2),
)

MIDDLE_NAMES_FEMALE: Final[Weighted] = (
    ("Thị", 45),
    ("Ngọc", 10),
    ("Thanh", 6),
    ("Thu", 5),
    ("Minh", 4),
    ("Phương", 4),
    ("Kim", 4),
    ("Hoài", 3),
    ("Mỹ", 3),
    ("Bảo", 3),
    ("Hồng", 3),
    ("Thùy", 3),
    ("Diệu", 2),
    ("Khánh", 2),
    ("Tuyết", 2),
    ("Mai", 2),
    ("Quỳnh", 2),
    ("Hải", 2),
)

# A second middle name follows a plain Văn/Thị: "Nguyễn Thị Ngọc Anh", "Trần Văn Minh Tuấn".
SECOND_MIDDLE_MALE: Final[Weighted] = (
    ("Minh", 4),
    ("Quốc", 3),
    ("Hoàng", 3),
    ("Anh", 2),
    ("Đức", 2),
    ("Thanh", 2),
)
SECOND_MIDDLE_FEMALE: Final[Weighted] = (
    ("Ngọc", 5),
    ("Thu", 4),
    ("Thanh", 3),
    ("Kim", 3),
    ("Hồng", 3),
    ("Mỹ", 2),
    ("Bảo", 2),
    ("Thúy", 2),
)

GIVEN_NAMES_MALE: Final[Weighted] = (
    ("Anh", 8),
    ("Minh", 7),
    ("Huy", 6),
    ("Tuấn", 6),
    ("Hùng", 5),
    ("Dũng", 5),
    ("Long", 5),
    ("Nam", 5),
    ("Hải", 4),
    ("Sơn", 4),
    ("Thắng", 4),
    ("Đức", 4),
    ("Trung", 4),
    ("Quân", 4),
    ("Phong", 3),
    ("Khánh", 3),
    ("Cường", 3),
    ("Đạt", 3),
    ("Hiếu", 3),
    ("Hoàng", 3),
    ("Tùng", 3),
    ("Việt", 3),
    ("Bình", 3),
    ("Thành", 3),
    ("Phúc", 3),
    ("Khoa", 2),
    ("Bảo", 2),
    ("Duy", 2),
    ("Dương", 2),
    ("Hưng", 2),
    ("Kiên", 2),
    ("Lâm", 2),
    ("Lộc", 2),
    ("Nghĩa", 2),
    ("Nhân", 2),
    ("Quang", 2),
    ("Tài", 2),
    ("Thịnh", 2),
    ("Tiến", 2),
    ("Toàn", 2),
    ("Trí", 2),
    ("Vinh", 2),
    ("An", 2),
    ("Khang", 2),
    ("Phước", 1),
    ("Hào", 1),
    ("Hiệp", 1),
    ("Lợi", 1),
    ("Công", 1),
    ("Vũ", 1),
)

GIVEN_NAMES_FEMALE: Final[Weighted] = (
    ("Linh", 8),
    ("Trang", 7),
    ("Hương", 6),
    ("Anh", 6),
    ("Ngọc", 5),
    ("Thảo", 5),
    ("Hà", 5),
    ("Lan", 4),
    ("Huyền", 4),
    ("Phương", 4),
    ("Mai", 4),
    ("Hằng", 4),
    ("Nhung", 3),
    ("Hạnh", 3),
    ("Hoa", 3),
    ("Thủy", 3),
    ("Vy", 3),
    ("Yến", 3),
    ("Giang", 3),
    ("Quỳnh", 3),
    ("Trâm", 2),
    ("Nhi", 2),
    ("My", 2),
    ("Ly", 2),
    ("Uyên", 2),
    ("Vân", 2),
    ("Dung", 2),
    ("Duyên", 2),
    ("Hiền", 2),
    ("Hồng", 2),
    ("Liên", 2),
    ("Loan", 2),
    ("Nga", 2),
    ("Ngân", 2),
    ("Oanh", 2),
    ("Thư", 2),
    ("Tâm", 2),
    ("Chi", 2),
    ("An", 2),
    ("Quyên", 1),
    ("Diệp", 1),
)

# The 34 provincial units since 1 July 2025; weight = 2024 population in thousands.
PROVINCES: Final[Weighted] = (
    ("TP. Hồ Chí Minh", 14000),
    ("Hà Nội", 8700),
    ("Hải Phòng", 4100),
    ("Đồng Nai", 4200),
    ("Ninh Bình", 3800),
    ("Thanh Hóa", 3760),
    ("An Giang", 3700),
    ("Phú Thọ", 3600),
    ("Nghệ An", 3440),
    ("Bắc Ninh", 3400),
    ("Vĩnh Long", 3400),
    ("Đồng Tháp", 3400),
    ("Lâm Đồng", 3300),
    ("Hưng Yên", 3200),
    ("Cần Thơ", 3200),
    ("Gia Lai", 3100),
    ("Đà Nẵng", 3070),
    ("Tây Ninh", 2900),
    ("Đắk Lắk", 2800),
    ("Cà Mau", 2100),
    ("Khánh Hòa", 1900),
    ("Quảng Ngãi", 1800),
    ("Tuyên Quang", 1700),
    ("Lào Cai", 1600),
    ("Thái Nguyên", 1600),
    ("Quảng Trị", 1600),
    ("Quảng Ninh", 1380),
    ("Sơn La", 1300),
    ("Hà Tĩnh", 1300),
    ("Huế", 1160),
    ("Lạng Sơn", 800),
    ("Điện Biên", 640),
    ("Cao Bằng", 550),
    ("Lai Châu", 490),
)

# Mobile numbering blocks: (leading digits of the 10-digit number, carrier, weight).
# A carrier's share is split evenly over its blocks; a 4-digit block is the part of a
# 3-digit prefix that is allocated (e.g. only 0896-0899 of 089).
CARRIER_SHARES: Final[dict[str, float]] = {
    "Viettel": 50.0,
    "VinaPhone": 25.0,
    "MobiFone": 20.0,
    "Vietnamobile": 2.5,
    "Gmobile": 1.0,
    "Itel": 1.0,
    "Reddi": 0.5,
}

_CARRIER_BLOCKS: Final[dict[str, tuple[str, ...]]] = {
    "Viettel": ("086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039"),
    "VinaPhone": ("088", "091", "094", "081", "082", "083", "084", "085"),
    "MobiFone": ("0896", "0897", "0898", "0899", "090", "093", "070", "076", "077", "078", "079"),
    "Vietnamobile": ("092", "056", "058"),
    "Gmobile": ("0990", "0991", "0993", "0994", "0995", "0996", "0997", "0998", "0999", "059"),
    "Itel": ("087",),
    "Reddi": ("0559",),
}


def _block_weight(carrier: str, block: str) -> float:
    # A 4-digit block is a tenth of a 3-digit prefix, so it gets a tenth of a prefix's share.
    blocks = _CARRIER_BLOCKS[carrier]
    units = sum(1.0 if len(b) == 3 else 0.1 for b in blocks)
    return CARRIER_SHARES[carrier] * (1.0 if len(block) == 3 else 0.1) / units


MOBILE_BLOCKS: Final[tuple[tuple[str, str, float], ...]] = tuple(
    (block, carrier, _block_weight(carrier, block))
    for carrier, blocks in _CARRIER_BLOCKS.items()
    for block in blocks
)


def carrier_by_prefix(phone: str) -> str | None:
    """The original carrier of a clean 10-digit mobile number, by its leading digits."""
    for block, carrier, _ in MOBILE_BLOCKS:
        if phone.startswith(block):
            return carrier
    return None


# Landline area codes as written with the trunk 0, and how many subscriber digits follow.
LANDLINE_AREAS: Final[tuple[tuple[str, int], ...]] = (
    ("024", 8),  # Hà Nội
    ("028", 8),  # TP. Hồ Chí Minh
    ("0236", 7),  # Đà Nẵng
    ("0225", 7),  # Hải Phòng
    ("0251", 7),  # Đồng Nai
)

CUSTOMER_TAGS: Final[Weighted] = (
    ("Khách quen", 4),
    ("Thành viên", 3),
    ("Facebook", 3),
    ("Zalo", 3),
    ("VIP", 2),
    ("Giới thiệu", 1),
    ("Hội chợ 2025", 1),
    ("Đã khiếu nại", 0.5),
)

# Purchase categories: (name, weight, median order value in VND, log-normal sigma).
CATEGORIES: Final[tuple[tuple[str, float, int, float], ...]] = (
    ("Thời trang", 25, 350_000, 0.7),
    ("Mỹ phẩm", 20, 320_000, 0.6),
    ("Thực phẩm", 18, 180_000, 0.6),
    ("Gia dụng", 14, 650_000, 0.8),
    ("Điện tử", 10, 2_800_000, 0.9),
    ("Mẹ & bé", 8, 450_000, 0.7),
    ("Sách", 5, 150_000, 0.5),
)

EMAIL_DOMAINS: Final[Weighted] = (
    ("gmail.com", 80),
    ("yahoo.com", 7),
    ("outlook.com", 4),
    ("hotmail.com", 3),
    ("icloud.com", 3),
    ("yahoo.com.vn", 3),
)
