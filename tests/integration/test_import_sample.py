"""The importer against `loa sample --messy`: its report must match the damage the generator
recorded, row for row, in every encoding a Vietnamese shop's files come in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from loa.services.contacts.importer import import_contacts
from loa.services.sample import SampleSpec, write_sample
from loa.store.db import Store
from loa.store.tables import contacts

PHONE = "Số điện thoại"
BIRTHDAY = "Ngày sinh"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp1258"])
def test_the_report_names_exactly_the_damaged_rows(
    store: Store, tmp_path: Path, encoding: str
) -> None:
    spec = SampleSpec(contacts=1500, orders=0, now=date(2026, 11, 23), seed=3, messy=True,
                      encoding=encoding)  # fmt: skip
    files = write_sample(spec, tmp_path / "messy")
    clean = write_sample(SampleSpec(1500, 0, date(2026, 11, 23), seed=3), tmp_path / "clean")
    manifest = files.manifest_data
    report = import_contacts(store, files.contacts)

    damage = manifest["damage"]
    phone_bad = {r for kind, rows in damage.items() for r in rows
                 if manifest["effects"][kind] == "invalid_phone"}  # fmt: skip
    date_bad = set(damage["bad_date"])
    # The report counts spreadsheet lines: the header is line 1, data row n is line n + 1.
    assert {(e.line - 1, e.column) for e in report.errors} == {
        *((r, PHONE) for r in phone_bad),
        *((r, BIRTHDAY) for r in date_bad),
    }
    assert report.invalid == manifest["invalid_rows"] + manifest["invalid_dates"]
    assert report.imported == manifest["expected_valid_unique_contacts"]
    assert report.updated == manifest["duplicates"]  # merged with their earlier copy
    assert report.rows == report.imported + report.updated + report.invalid

    # Every number that survived is stored as the clean file wrote it, legacy ones converted.
    truth = clean.contacts.read_text(encoding="utf-8").splitlines()[1:]
    expected = {
        "+84" + line.split(",")[1][1:]
        for n, line in enumerate(truth, start=1)
        if n not in phone_bad | date_bad and str(n) not in manifest["duplicate_of"]
    }
    with store.engine.connect() as conn:
        stored = set(conn.execute(select(contacts.c.phone)).scalars())
    assert stored == expected
    assert len(damage["legacy_11_digit"]) > 0
