"""Segment rules: what is refused and why (in both languages), and what SQL a rule becomes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Dialect, func, select
from sqlalchemy.dialects import postgresql, sqlite

from loa.i18n import LoaError
from loa.services.segments import BUILTINS, birthday_mmdd, compile_rule, parse_rule
from loa.services.segments.rules import (
    AllOf,
    Attr,
    EventRule,
    Not,
    Rfm,
    Tag,
    rule_from_text,
)
from loa.store.tables import contacts

NOW = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)

REFUSED: list[tuple[Any, str]] = [
    (
        [{"tag": "vip"}],
        'rule phải là một đối tượng JSON như {"tag": "vip"}, không phải [{"tag": "vip"}].',
    ),
    (
        {"province": "Hà Nội"},
        "rule: không nhận ra loại điều kiện (có các khóa province). Mỗi điều kiện có đúng một "
        "trong các khóa: all, any, not, attr, tag, channel, consent, event, "
        "birthday_within_days, created_within_days, rfm.",
    ),
    (
        {"tag": "vip", "event": "purchase"},
        'rule trộn nhiều loại điều kiện (tag, event); tách chúng ra trong {"all": [...]}.',
    ),
    (
        {"all": {"tag": "vip"}},
        "rule.all phải là một danh sách điều kiện (tối đa 1000), ví dụ "
        '[{"tag": "vip"}, {"attr": "province", "op": "eq", "value": "Hà Nội"}]; '
        'không phải {"tag": "vip"}.',
    ),
    (
        {"any": []},
        'rule.any: danh sách "any" rỗng sẽ không chọn ai; thêm ít nhất một điều kiện.',
    ),
    (
        {"all": [{"tag": "vip"}, {"attr": "tinh", "op": "eq", "value": "Huế"}]},
        "rule.all[1].attr: không có thuộc tính 'tinh'. Dùng một trong: birthday, carrier, "
        "created_at, dnc, email, gender, given_name, name, phone, phone_type, province, source; "
        "hoặc attrs.TÊN cho thuộc tính riêng, ví dụ attrs.customer_type.",
    ),
    (
        {"attr": "province", "op": "gt", "value": "A"},
        "rule.op: phép so sánh '\"gt\"' không dùng được cho 'province'; dùng một trong: eq, ne, "
        "in, not_in, contains, starts_with, exists, missing.",
    ),
    (
        {"attr": "province", "value": "Huế"},
        'rule thiếu khóa \'op\'; ví dụ: {"attr": "province", "op": "eq", "value": "Hà Nội"}.',
    ),
    (
        {"attr": "email", "op": "exists", "value": "x"},
        "rule.value: phép 'exists' không cần \"value\"; bỏ khóa value đi.",
    ),
    (
        {"attr": "province", "op": "in", "value": "Huế"},
        'rule.value phải là một danh sách không rỗng (tối đa 1000 giá trị), ví dụ ["Hà Nội", '
        '"Hải Phòng"]; không phải "Huế".',
    ),
    (
        {"attr": "dnc", "op": "eq", "value": "yes"},
        'rule.value phải là true hoặc false; không phải "yes".',
    ),
    (
        {"attr": "birthday", "op": "lt", "value": "25/12/1990"},
        'rule.value phải là ngày dạng YYYY-MM-DD, ví dụ "1990-12-25"; không phải "25/12/1990".',
    ),
    (
        {"attr": "created_at", "op": "gte", "value": "2025-01-31T08:00:00"},
        'rule.value phải là ngày "2025-01-31" (giờ Việt Nam) hoặc thời điểm ISO có múi giờ '
        '"2025-01-31T08:00:00+07:00"; không phải "2025-01-31T08:00:00".',
    ),
    (
        {"attr": "attrs.points", "op": "gt", "value": "100"},
        'rule.value phải là một số, ví dụ 5; không phải "100".',
    ),
    (
        {"attr": "attrs.a.b", "op": "exists"},
        "rule.attr: tên thuộc tính riêng 'attrs.a.b' không hợp lệ; dùng chữ, số, _ hoặc - (tối "
        "đa 64 ký tự), ví dụ attrs.customer_type.",
    ),
    (
        {"tag": []},
        'rule.tag phải là một danh sách không rỗng (tối đa 1000 giá trị), ví dụ ["Hà Nội", '
        '"Hải Phòng"]; không phải [].',
    ),
    (
        {"channel": "sms", "state": "blocked"},
        'rule.state phải là một trong: subscribed, opted_out; không phải "blocked".',
    ),
    (
        {"channel": "sms"},
        'rule thiếu khóa \'state\'; ví dụ: {"channel": "sms", "state": "opted_out"}.',
    ),
    (
        {"consent": {"channel": "fax", "purpose": "marketing"}},
        'rule.consent.channel phải là một trong: sms, email, push, zalo; không phải "fax".',
    ),
    (
        {"event": "purchase", "within_days": 90},
        'rule: điều kiện sự kiện cần "count", "sum" hoặc "exists", ví dụ '
        '{"event": "purchase", "count": {"gte": 2}, "within_days": 90}.',
    ),
    (
        {"event": "purchase", "exists": True, "count": {"gte": 2}},
        'rule: "exists" không đi cùng "count" hay "sum"; "exists": true nghĩa là '
        '"count": {"gte": 1}, false nghĩa là "count": {"eq": 0}.',
    ),
    (
        {"event": "purchase", "count": {"atleast": 2}},
        'rule.count phải là một phép so sánh như {"gte": 2} với eq, ne, gt, gte, lt, lte; '
        'không phải {"atleast": 2}.',
    ),
    (
        {"event": "purchase", "count": {"gte": 2}, "within_days": 0},
        "rule.within_days phải là số nguyên từ 1 đến 36500; không phải 0.",
    ),
    (
        {"event": "purchase", "count": {"gte": 2}, "days": 90},
        "rule: khóa 'days' không dùng được ở đây; các khóa hợp lệ: category, count, event, "
        "exists, sum, within_days.",
    ),
    (
        {"birthday_within_days": 400},
        "rule.birthday_within_days phải là số nguyên từ 1 đến 366; không phải 400.",
    ),
    (
        {"rfm": {"f": {"gte": 6}}},
        "rule.rfm.f.gte phải là số nguyên từ 1 đến 5; không phải 6.",
    ),
    (
        {"rfm": {}},
        'rule.rfm: cần ít nhất một trong r, f, m, ví dụ {"rfm": {"f": {"gte": 4}}}.',
    ),
    (
        {"not": {"not": {"all": [{"any": [{"tag": 5}]}]}}},
        'rule.not.not.all[0].any[0].tag phải là một chuỗi không rỗng, ví dụ "Hà Nội"; '
        "không phải 5.",
    ),
]


@pytest.mark.parametrize(("rule", "message"), REFUSED)
def test_a_bad_rule_names_the_part_and_the_fix(rule: Any, message: str) -> None:
    with pytest.raises(LoaError) as caught:
        parse_rule(rule)
    assert caught.value.render() == message


def test_errors_are_in_english_too() -> None:
    with pytest.raises(LoaError) as caught:
        parse_rule({"all": [{"tag": "vip"}, {"event": "purchase", "count": {"gte": "2"}}]})
    assert caught.value.render("en") == (
        'rule.all[1].count.gte must be a whole number from 0 to 1000000000; not "2".'
    )


def test_too_deep_a_rule_is_refused() -> None:
    rule: dict[str, Any] = {"tag": "x"}
    for _ in range(20):
        rule = {"not": rule}
    with pytest.raises(LoaError) as caught:
        parse_rule(rule)
    assert caught.value.code == "segments.rule.too_deep"


def test_rule_text_must_be_json() -> None:
    with pytest.raises(LoaError) as caught:
        rule_from_text("{tag: vip}")
    assert caught.value.render() == (
        "Điều kiện không phải JSON hợp lệ (Expecting property name enclosed in double quotes). "
        'Ví dụ đúng: {"tag": "vip"}.'
    )


def test_a_good_rule_becomes_a_tree() -> None:
    rule = {
        "all": [
            {"tag": ["vip", "gold"]},
            {"not": {"attr": "province", "op": "in", "value": ["Hà Nội"]}},
            {"event": "purchase", "exists": False, "within_days": 180},
            {"rfm": {"r": {"gte": 4}}},
            {"attr": "attrs.tier", "op": "eq", "value": 2.0},
        ]
    }
    assert parse_rule(rule) == AllOf(
        (
            Tag(("vip", "gold")),
            Not(Attr("province", "text", "in", ("Hà Nội",))),
            EventRule("purchase", (("eq", 0),), (), 180, None),
            Rfm((("gte", 4),), (), ()),
            Attr("attrs.tier", "custom", "eq", "2"),
        )
    )


def test_every_builtin_rule_is_valid() -> None:
    for name, spec in BUILTINS.items():
        assert parse_rule(spec.rule) is not None, name
    assert list(BUILTINS) == [
        "all",
        "new",
        "potential",
        "past_buyers",
        "loyal",
        "vip",
        "at_risk",
        "inactive",
        "wholesale",
        "retail",
    ]


def _sql(rule: Any, dialect: str) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of a count over contacts, as the database receives it."""
    where = compile_rule(parse_rule(rule), workspace_id=7, now=NOW, dialect=dialect)
    query = select(func.count()).select_from(contacts).where(where)
    pg: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    target = pg if dialect == "postgresql" else sqlite.dialect()
    compiled = query.compile(dialect=target)
    sql = " ".join(str(compiled).split())
    prefix = "SELECT count(*) AS count_1 FROM contacts WHERE "
    assert sql.startswith(prefix)
    return sql.removeprefix(prefix), dict(compiled.params)


def test_values_are_bound_parameters_never_sql_text() -> None:
    evil = "x'); DROP TABLE contacts; --"
    for dialect in ("sqlite", "postgresql"):
        for rule in (
            {"attr": "province", "op": "eq", "value": evil},
            {"attr": "attrs.note", "op": "contains", "value": evil},
            {"tag": evil},
            {"event": "purchase", "exists": True, "category": evil},
        ):
            sql, params = _sql(rule, dialect)
            assert "DROP" not in sql
            assert evil in [v for p in params.values() for v in (p if isinstance(p, list) else [p])]


def test_no_purchase_in_180_days_compiles_to_not_in_on_sqlite() -> None:
    sql, params = _sql({"event": "purchase", "count": {"eq": 0}, "within_days": 180}, "sqlite")
    assert sql == (
        "(contacts.id NOT IN (SELECT events.contact_id FROM events WHERE events.workspace_id = ? "
        "AND events.type IN (__[POSTCOMPILE_type_1]) AND events.occurred_at <= ? "
        "AND events.occurred_at >= ?))"
    )
    assert params["type_1"] == ["purchase", "order_completed"]
    assert params["occurred_at_2"] == datetime(2024, 12, 17, 3, 0, tzinfo=UTC)


def test_no_purchase_compiles_to_not_exists_on_postgresql() -> None:
    sql, _ = _sql({"event": "purchase", "count": {"eq": 0}}, "postgresql")
    assert sql == (
        "NOT (EXISTS (SELECT * FROM (SELECT events.contact_id AS contact_id FROM events "
        "WHERE events.workspace_id = %(workspace_id_1)s::BIGINT "
        "AND events.type IN (__[POSTCOMPILE_type_1]) "
        "AND events.occurred_at <= %(occurred_at_1)s::TIMESTAMP WITHOUT TIME ZONE) AS found "
        "WHERE found.contact_id = contacts.id))"
    )


def test_at_least_n_groups_and_at_least_one_does_not() -> None:
    twice, _ = _sql({"event": "purchase", "count": {"gte": 2}}, "sqlite")
    once, _ = _sql({"event": "purchase", "exists": True}, "sqlite")
    fewer, _ = _sql({"event": "purchase", "count": {"lt": 3}}, "sqlite")
    assert twice.endswith("GROUP BY events.contact_id HAVING count(*) >= ?)")
    assert twice.startswith("contacts.id IN (")
    assert "GROUP BY" not in once
    assert fewer.startswith("(contacts.id NOT IN (")
    assert fewer.endswith("GROUP BY events.contact_id HAVING count(*) >= ?))")


def test_birthday_uses_the_precomputed_month_day() -> None:
    sql, params = _sql({"birthday_within_days": 3}, "sqlite")
    assert sql == (
        "contacts.birth_mmdd IS NOT NULL AND contacts.birth_mmdd IN (__[POSTCOMPILE_birth_mmdd_1])"
    )
    assert params["birth_mmdd_1"] == [615, 616, 617]


@pytest.mark.parametrize(
    ("today", "days", "expected"),
    [
        (date(2025, 12, 28), 7, [101, 102, 103, 1228, 1229, 1230, 1231]),
        (date(2025, 2, 27), 2, [227, 228, 229]),
        (date(2025, 2, 28), 2, [228, 229, 301]),
        (date(2028, 2, 28), 2, [228, 229]),
        (date(2028, 3, 1), 1, [301]),
        (date(2100, 2, 28), 1, [228, 229]),  # 2100 is not a leap year
    ],
)
def test_birthday_month_days(today: date, days: int, expected: list[int]) -> None:
    assert birthday_mmdd(today, days) == expected


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        compile_rule(Tag(("x",)), workspace_id=1, now=datetime(2025, 1, 1), dialect="sqlite")
