"""Personalised SMS templates: exact texts, exact errors, and counts equal to count_segments."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from loa.domain.templates import FILTERS, parse, render_chunk
from loa.domain.text import count_segments
from loa.i18n import LoaError

LAN = {"name": "Nguyễn Thị Lan", "given_name": "Lan", "gender": "female", "amount": 1_250_000}


@pytest.mark.parametrize(
    ("name", "value", "args", "shown"),
    [
        ("vnd", 1_250_000, (), "1.250.000đ"),
        ("vnd", 0, (), "0đ"),
        ("vnd", -50_000, (), "-50.000đ"),
        ("vnd", "1.250.000", (), "1.250.000đ"),
        ("vnd", 99_999.6, (), "100.000đ"),
        ("ddmm", date(2025, 12, 5), (), "05/12"),
        # 20:00 UTC on 4 Dec is 03:00 on 5 Dec in Vietnam.
        ("ddmm", datetime(2025, 12, 4, 20, 0, tzinfo=UTC), (), "05/12"),
        ("ddmm", "2025-01-02", (), "02/01"),
        ("ddmmyyyy", date(2026, 2, 17), (), "17/02/2026"),
        ("greeting", "male", (), "Anh"),
        ("greeting", "female", (), "Chị"),
        ("greeting", "other", (), "Quý khách"),
        ("greeting", None, (), "Quý khách"),
        ("greeting", "Nữ", (), "Chị"),
        ("greeting", None, ("Anh/Chị",), "Anh/Chị"),
        ("given", "Nguyễn Văn An", (), "An"),
        ("upper", "Lan", (), "LAN"),
        ("lower", "Chị", (), "chị"),
        ("title", "nguyễn văn an", (), "Nguyễn Văn An"),
        ("unaccent", "Đặng Thảo", (), "Dang Thao"),
        ("default", None, ("bạn",), "bạn"),
        ("default", "", ("bạn",), "bạn"),
        ("default", "Lan", ("bạn",), "Lan"),
    ],
)
def test_filter(name: str, value: Any, args: tuple[Any, ...], shown: str) -> None:
    assert FILTERS[name](value, *args) == shown


def test_renders_contact_and_event_variables() -> None:
    template = parse(
        '{{ gender | greeting }} {{ given_name | default("bạn") }} ơi, đơn {{ order.id }} '
        '({{ order["total"] | vnd }}) giao ngày {{ due | ddmm }}. Mã {{ voucher }}.'
    )
    rows = [
        {**LAN, "order": {"id": 4711, "total": 350_000}, "due": date(2025, 6, 9), "voucher": "A1"},
        {"gender": None, "order": {"id": 12, "total": 99_000}, "due": "2025-06-10", "voucher": 7},
    ]
    assert template.render_all(rows) == [
        "Chị Lan ơi, đơn 4711 (350.000đ) giao ngày 09/06. Mã A1.",
        "Quý khách bạn ơi, đơn 12 (99.000đ) giao ngày 10/06. Mã 7.",
    ]
    assert template.variables == [
        "gender",
        "given_name",
        "order.id",
        "order.total",
        "due",
        "voucher",
    ]


def test_literal_braces_and_text_without_variables() -> None:
    assert (
        render_chunk("Dùng mã {ABC} khi thanh toán\n", [{}, {}])
        == ["Dùng mã {ABC} khi thanh toán\n"] * 2
    )


def test_missing_variable_names_variable_and_recipient() -> None:
    template = parse("Chào {{ given_name }}, mã {{ voucher }}")
    with pytest.raises(LoaError) as caught:
        template.render_all([{"given_name": "Lan", "voucher": "X"}, {"given_name": "An"}])
    assert caught.value.code == "templates.missing_variable"
    assert caught.value.render("vi") == (
        "Thiếu giá trị của biến 'voucher' cho người nhận 2: bổ sung dữ liệu, hoặc khai báo giá "
        'trị mặc định, ví dụ {{ voucher | default("...") }}.'
    )
    assert caught.value.render("en") == (
        "The variable 'voucher' has no value for the recipient 2: add the data, or declare a "
        'default, for example {{ voucher | default("...") }}.'
    )


def test_render_rows_collects_failures_in_row_order() -> None:
    template = parse("{{ name | given }}: {{ amount | vnd }}")
    result = template.render_rows(
        [{"name": "Lê Hà", "amount": 5}, {"amount": 1}, {"name": "Tú", "amount": "nhiều"}],
        ["#7", "#8", "#9"],
    )
    assert result.texts == ["Hà: 5đ", None, None]
    assert [(e.label, e.variable, e.error.code) for e in result.errors] == [
        ("#8", "name", "templates.missing_variable"),
        ("#9", "amount", "templates.bad_value"),
    ]
    assert result.errors[1].error.render("en") == (
        "The filter 'vnd' cannot take the value 'nhiều' of the variable 'amount' for the "
        "recipient #9: it needs an amount of money."
    )


@pytest.mark.parametrize(
    ("source", "code", "english"),
    [
        (
            "{% if vip %}VIP{% endif %}",
            "templates.unsupported",
            "The message template uses '{% if %}', which is not supported: use only text and "
            'variables like {{ variable | filter("argument") }}.',
        ),
        (
            "{{ name.__class__ }}",
            "templates.private_name",
            "The variable 'name.__class__' is not allowed: variable names may not start with '_'.",
        ),
        (
            "{{ name.upper() }}",
            "templates.unsupported",
            "The message template uses '(...)', which is not supported: use only text and "
            'variables like {{ variable | filter("argument") }}.',
        ),
        (
            "{{ amount * 2 }}",
            "templates.unsupported",
            "The message template uses '*', which is not supported: use only text and "
            'variables like {{ variable | filter("argument") }}.',
        ),
        (
            "{{ name | attr('x') }}",
            "templates.unknown_filter",
            "There is no filter 'attr' (on the variable 'name'). Known filters: vnd, ddmm, "
            "ddmmyyyy, greeting, given, upper, lower, title, unaccent, default.",
        ),
        (
            "{{ amount | vnd(2) }}",
            "templates.bad_filter_args",
            "The filter 'vnd' on the variable 'amount' got wrong arguments: too many positional "
            "arguments.",
        ),
        (
            "Chào {{ name",
            "templates.syntax",
            "The message template has a syntax error on line 1: unexpected end of template, "
            "expected 'end of print statement'. Write variables as {{ variable_name }}.",
        ),
    ],
)
def test_refused_templates(source: str, code: str, english: str) -> None:
    with pytest.raises(LoaError) as caught:
        parse(source)
    assert caught.value.code == code
    assert caught.value.render("en") == english


def test_unaccented_template() -> None:
    template = parse("Chúc mừng {{ gender | greeting }} {{ given_name }}! Giảm {{ amount | vnd }}")
    assert template.unaccented().render_all([LAN]) == ["Chuc mung Chi Lan! Giam 1.250.000d"]


def test_filters_work_in_a_jinja2_sandbox() -> None:
    env = SandboxedEnvironment(undefined=StrictUndefined)
    env.filters.update(FILTERS)
    html = env.from_string('{{ gender | greeting }} {{ nick | default("bạn") }}: {{ 5000 | vnd }}')
    assert html.render(gender="male") == "Anh bạn: 5.000đ"


WORDS = ["Lan", "Thảo", "An", "x{y}", "[VIP]", "€5", "👍🏻", "e\u0301", "ÁNH", "Đức", "", None]


def test_render_counted_equals_count_segments_on_every_message() -> None:
    rng = random.Random(7)
    sources = [
        "[QC] {{ a }} ơi, {{ b | default('bạn') }} được tặng {{ n | vnd }}. Tu choi QC soan TC",
        "Hi {{ a | default('ban') }} {{ b | default('') }}! " * 5,
        "{{ a | default('x') }}\u0301 {{ b | default('y') }}" + "z" * 150,
        "{{ a | default('A') }}{{ b | default('B') }}",
    ]
    rows = [
        {"a": rng.choice(WORDS), "b": (rng.choice(WORDS) or "") * rng.randint(1, 40), "n": 5}
        for _ in range(600)
    ]
    for source in sources:
        for template in (parse(source), parse(source).unaccented()):
            result, counts = template.render_counted(rows)
            expected = [None if t is None else count_segments(t) for t in result.texts]
            assert counts == expected, source
