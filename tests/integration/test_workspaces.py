"""Workspaces keep tenants apart: the same customer file in two shops gives two books."""

from __future__ import annotations

from pathlib import Path

import pytest

from loa.i18n import LoaError
from loa.services.contacts.importer import import_contacts
from loa.services.contacts.people import count_contacts
from loa.services.workspaces import create_workspace, list_workspaces
from loa.store.db import Store, workspace_id


def test_the_same_number_lives_once_per_workspace(store: Store, tmp_path: Path) -> None:
    other_id = create_workspace(store.engine, "shop-hcm", "Cửa hàng HCM")
    other = Store(engine=store.engine, workspace_id=other_id)
    path = tmp_path / "k.csv"
    path.write_text("sdt,ten\n0912345678,An\n0987654321,Bình\n", encoding="utf-8")
    import_contacts(store, path)
    report = import_contacts(other, path)
    assert report.imported == 2  # not "updated": the default workspace's copies are not its own
    assert (count_contacts(store), count_contacts(other)) == (2, 2)
    assert list_workspaces(store.engine) == [
        {"slug": "default", "name": "Default", "contacts": 2},
        {"slug": "shop-hcm", "name": "Cửa hàng HCM", "contacts": 2},
    ]
    assert workspace_id(store.engine, "shop-hcm") == other_id


def test_workspace_names_are_checked(store: Store) -> None:
    with pytest.raises(LoaError) as caught:
        create_workspace(store.engine, "Cửa hàng")
    assert caught.value.render() == (
        "Tên workspace 'Cửa hàng' không hợp lệ: dùng chữ thường không dấu, số và '-', tối đa 63 "
        "ký tự, ví dụ 'cua-hang-q1'."
    )
    with pytest.raises(LoaError) as caught:
        create_workspace(store.engine, "default")
    assert caught.value.render() == "Workspace 'default' đã có."
    with pytest.raises(LoaError) as caught:
        workspace_id(store.engine, "nope")
    assert caught.value.render() == "Không có workspace 'nope'. Các workspace hiện có: default."
