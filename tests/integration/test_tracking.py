"""Click tracking over a real uvicorn server on a loopback port, and the report of a small
seeded campaign with every figure stated: clicks (bots apart), orders credited, ROI, the effect
against the holdout."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, insert, select

from loa.services.tracking import report as tracking_report
from loa.services.tracking.report import campaign_report, compare_campaigns
from loa.store.db import Store
from loa.store.tables import attributions, campaigns, clicks, contacts, events, outbox, short_links
from loa.tracker import create_tracker_app

BROWSER = (
    "Mozilla/5.0 (Linux; Android 13; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36 Zalo android/12100681 ZaloTheme/light ZaloLanguage/vi"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FACEBOOK = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


class Served:
    """A uvicorn server in a thread, with its own event loop, on 127.0.0.1:<port>."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", http="httptools"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


@pytest.fixture
def tracker_url(store: Store) -> Iterator[str]:
    with Served(create_tracker_app(store)) as url:
        yield url


def seed(
    store: Store, *, name: str = "Tết VIP", holdout: int = 4, t0: datetime | None = None
) -> dict[str, Any]:
    """A campaign of 10 recipients in variants A and B and a holdout of 4, in every state a
    message can end in. Every message costs 700 đ."""
    ws = store.workspace_id
    t0 = t0 or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    rows = {
        # key: (variant, carrier, status, code, submitted after s, delivered after s)
        "a1": ("A", "viettel", "delivered", None, 0, 5),
        "a2": ("A", "viettel", "delivered", None, 0, 10),
        "a3": ("A", "viettel", "delivered", None, 0, 20),
        "a4": ("A", "mobifone", "delivered", None, 0, 60),
        "a5": ("A", "mobifone", "undelivered", "027", 0, 30),
        "b1": ("B", "viettel", "delivered", None, 3600, 5),
        "b2": ("B", "vinaphone", "delivered", None, 3600, 30),
        "b3": ("B", "vinaphone", "expired", "no-receipt", 3600, None),
        "b4": ("B", "viettel", "failed", "0x0000000B", None, None),
        "b5": ("B", "viettel", "suppressed", None, None, None),
        **{
            f"h{i}": ("control", "viettel", "holdout", None, None, None)
            for i in range(1, holdout + 1)
        },
    }
    ids: dict[str, Any] = {}
    with store.engine.begin() as conn:
        cid = int(
            conn.execute(
                insert(campaigns)
                .values(
                    workspace_id=ws,
                    name=name,
                    **{"class": "qc"},
                    sender="SHOPABC",
                    audience={"include": ["all"]},
                    variants=[
                        {"name": "A", "text": "a", "share_pct": 50},
                        {"name": "B", "text": "b", "share_pct": 50},
                    ],
                    holdout_pct=30,
                    schedule={"mode": "now"},
                    budget_vnd=10_000,
                    seed=1,
                    created_by="test",
                    state="completed",
                    created_at=t0 - timedelta(days=1),
                )
                .returning(campaigns.c.id)
            ).scalar_one()
        )
        ids["campaign"] = cid
        for n, (key, (variant, carrier, status, code, sub, done)) in enumerate(rows.items()):
            contact = int(
                conn.execute(
                    insert(contacts)
                    .values(workspace_id=ws, phone=f"+849{cid:02d}{n:06d}", name=key)
                    .returning(contacts.c.id)
                ).scalar_one()
            )
            submitted = None if sub is None else t0 + timedelta(seconds=sub)
            oid = int(
                conn.execute(
                    insert(outbox)
                    .values(
                        workspace_id=ws,
                        idempotency_key=f"c{cid}:{contact}",
                        campaign_id=cid,
                        contact_id=contact,
                        phone=f"+849{cid:02d}{n:06d}",
                        **{"class": "qc"},
                        sender="SHOPABC",
                        variant=variant,
                        carrier=carrier,
                        price_vnd=700,
                        decision={"holdout": "holdout", "suppressed": "suppress"}.get(
                            status, "send"
                        ),
                        status=status,
                        code=code,
                        submitted_at=submitted,
                        done_at=None
                        if done is None or submitted is None
                        else submitted + timedelta(seconds=done),
                    )
                    .returning(outbox.c.id)
                ).scalar_one()
            )
            ids[key] = {"contact": contact, "outbox": oid, "code": f"{key}{cid}xyz"}
            if not key.startswith("h"):
                conn.execute(
                    insert(short_links).values(
                        code=ids[key]["code"],
                        workspace_id=ws,
                        destination=f"https://shop.vn/tet?utm_source=loa&utm_medium=sms&"
                        f"utm_campaign=tet-vip&v={variant}",
                        campaign_id=cid,
                        contact_id=contact,
                        outbox_id=oid,
                        variant=variant,
                    )
                )
    return ids


def order(store: Store, contact: int, at: datetime, value: int | None, key: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(events).values(
                workspace_id=store.workspace_id,
                contact_id=contact,
                type="purchase",
                occurred_at=at,
                value_vnd=value,
                external_id=key,
            )
        )


def test_a_click_redirects_to_the_destination_with_utm_and_is_recorded(store: Store) -> None:
    ids = seed(store)
    with Served(create_tracker_app(store)) as url, httpx.Client(base_url=url) as http:
        got = http.get(f"/r/{ids['a1']['code']}", headers={"user-agent": IPHONE})
        assert got.status_code == 302
        assert got.headers["location"] == (
            "https://shop.vn/tet?utm_source=loa&utm_medium=sms&utm_campaign=tet-vip&v=A"
        )
        assert got.headers["cache-control"] == "no-store"
        preview = http.get(f"/r/{ids['a1']['code']}", headers={"user-agent": FACEBOOK})
        assert preview.status_code == 302  # a preview still sees the page it asks for
        head = http.head(f"/r/{ids['a1']['code']}", headers={"user-agent": IPHONE})
        assert head.status_code == 302
    with store.engine.connect() as conn:
        seen = conn.execute(
            select(
                clicks.c.human, clicks.c.bot, clicks.c.method, clicks.c.variant, clicks.c.outbox_id
            ).order_by(clicks.c.id)
        ).all()
    a1 = ids["a1"]["outbox"]
    assert [tuple(r) for r in seen] == [
        (True, None, "GET", "A", a1),
        (False, "facebook", "GET", "A", a1),
        (False, "head", "HEAD", "A", a1),
    ]


def test_unknown_and_expired_codes_get_a_friendly_page_in_both_languages(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(short_links).values(
                code="old1234",
                workspace_id=store.workspace_id,
                destination="https://shop.vn/het",
                expires_at=datetime.now(UTC) - timedelta(days=1),
            )
        )
    with Served(create_tracker_app(store)) as url, httpx.Client(base_url=url) as http:
        missing = http.get("/r/nope123", headers={"user-agent": IPHONE})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "text/html; charset=utf-8"
        assert "Không tìm thấy liên kết" in missing.text
        assert "Link not found" in missing.text
        assert "<code>nope123</code>" in missing.text
        assert "Traceback" not in missing.text
        expired = http.get("/r/old1234", headers={"user-agent": IPHONE})
        assert expired.status_code == 410
        assert "Liên kết đã hết hạn" in expired.text
        assert "This link has expired" in expired.text
        hostile = http.get("/r/<script>alert(1)</script>")
        assert hostile.status_code == 404
        assert "<script>" not in hostile.text
        elsewhere = http.get("/admin")
        assert elsewhere.status_code == 404
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(clicks)).scalar_one() == 0


def test_no_click_is_lost_when_the_server_stops_right_after_a_burst(store: Store) -> None:
    ids = seed(store)
    codes = [ids[k]["code"] for k in ("a1", "a2", "a3", "b1", "b2")]

    async def burst(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
            answers = await asyncio.gather(
                *(
                    http.get(f"/r/{codes[i % 5]}", headers={"user-agent": IPHONE})
                    for i in range(300)
                )
            )
        return [a.status_code for a in answers]

    with Served(create_tracker_app(store)) as url:
        statuses = asyncio.run(burst(url))
    assert statuses == [302] * 300
    with store.engine.connect() as conn:
        per_code = dict(
            conn.execute(select(clicks.c.code, func.count()).group_by(clicks.c.code)).all()
        )
    assert per_code == dict.fromkeys(codes, 60)


def clicks_over_http(store: Store, ids: dict[str, Any]) -> datetime:
    """People click a1 (twice), a2 and b1; a link preview opens a3, a HEAD request a4, a
    script b2. Returns when the clicking was done."""
    with Served(create_tracker_app(store)) as url, httpx.Client(base_url=url) as http:
        for key, agent in (("a1", IPHONE), ("a1", BROWSER), ("a2", IPHONE), ("b1", BROWSER)):
            assert http.get(f"/r/{ids[key]['code']}", headers={"user-agent": agent}).is_redirect
        assert http.get(f"/r/{ids['a3']['code']}", headers={"user-agent": FACEBOOK}).is_redirect
        assert http.head(f"/r/{ids['a4']['code']}", headers={"user-agent": IPHONE}).is_redirect
        assert http.get(f"/r/{ids['b2']['code']}", headers={"user-agent": "curl/8.5.0"}).is_redirect
    return datetime.now(UTC)


def seeded_report(store: Store) -> tuple[dict[str, Any], dict[str, Any], datetime]:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    ids = seed(store, t0=t0)
    clicked = clicks_over_http(store, ids)
    day = timedelta(days=1)
    order(store, ids["a1"]["contact"], clicked + 2 * day, 500_000, "o-a1")  # clicked 2 days ago
    order(store, ids["a2"]["contact"], clicked + 10 * day, 400_000, "o-a2")  # too late: none
    order(store, ids["a3"]["contact"], t0 + timedelta(hours=12), 200_000, "o-a3")  # seen only
    order(store, ids["b1"]["contact"], clicked + day, 300_000, "o-b1")
    order(store, ids["b4"]["contact"], t0 + 2 * day, 80_000, "o-b4")  # never got it
    order(store, ids["h1"]["contact"], t0 + day, 150_000, "o-h1")  # holdout: bought anyway
    order(store, ids["h2"]["contact"], t0 + day, None, "o-h2")  # no value: not an order
    now = clicked + 11 * day
    with store.engine.begin() as conn:
        report = campaign_report(
            conn, workspace_id=store.workspace_id, campaign_id=ids["campaign"], now=now
        )
    return report, ids, now


def test_the_report_of_a_small_campaign_states_every_figure(store: Store) -> None:
    report, _ids, _now = seeded_report(store)
    figures = {
        k: report[k]
        for k in (
            "recipients", "holdout", "suppressed", "sent", "delivered", "undelivered", "expired",
            "rejected", "failed", "uncertain", "pending", "unique_clicks", "clicks", "bot_clicks",
            "orders", "buyers", "revenue_vnd", "cost_vnd", "roi", "delivery_rate", "ctr",
            "conversion_rate", "cost_per_delivered_vnd", "cost_per_click_vnd",
            "cost_per_order_vnd",
        )
    }  # fmt: skip
    assert figures == {
        "recipients": 10,
        "holdout": 4,
        "suppressed": 1,
        "sent": 8,
        "delivered": 6,
        "undelivered": 1,
        "expired": 1,
        "rejected": 0,
        "failed": 1,
        "uncertain": 0,
        "pending": 0,
        "unique_clicks": 3,  # a1 (twice), a2, b1
        "clicks": 4,
        "bot_clicks": 3,  # the preview, the HEAD request, the script
        "orders": 3,  # a1 and b1 by their clicks, a3 by the message it was shown
        "buyers": 3,
        "revenue_vnd": 1_000_000,
        "cost_vnd": 5_600,  # 8 sent x 700 đ
        "roi": 177.5714,  # (1,000,000 - 5,600) / 5,600
        "delivery_rate": 0.75,
        "ctr": 0.5,
        "conversion_rate": 0.3,
        "cost_per_delivered_vnd": 933,
        "cost_per_click_vnd": 1867,
        "cost_per_order_vnd": 1867,
    }
    assert report["bots"] == {"facebook": 1, "head": 1, "script": 1}
    assert report["attribution"] == {
        "window_days": 7,
        "view_window_days": 1.0,
        "by_click": {"orders": 2, "revenue_vnd": 800_000},
        "by_view": {"orders": 1, "revenue_vnd": 200_000},
    }
    assert report["budget"] == {
        "budget_vnd": 10_000,
        "planned_vnd": 6_300,
        "spent_vnd": 5_600,
        "left_vnd": 4_400,
        "spent_pct": 56.0,
    }
    assert report["latency_s"] == {
        "p50": 10, "p90": 60, "p95": 60, "p99": 60, "max": 60, "count": 6,
        "sample_every": 1,
    }  # fmt: skip
    assert [
        (f["status"], f["code"], f["count"], f["reason_vi"], f["reason_en"])
        for f in report["failures"]
    ] == [
        ("expired", "no-receipt", 1, "không có báo cáo phát trong hạn",
         "no delivery receipt before the validity ended"),
        ("failed", "0x0000000B", 1, "số nhận không hợp lệ", "invalid destination number"),
        ("undelivered", "027", 1, "máy tắt hoặc ngoài vùng phủ sóng",
         "absent subscriber (phone off or out of range)"),
    ]  # fmt: skip
    variants = {
        v["variant"]: (v["recipients"], v["sent"], v["delivered"], v["unique_clicks"],
                       v["orders"], v["revenue_vnd"], v["cost_vnd"], v["roi"])
        for v in report["by_variant"]
    }  # fmt: skip
    assert variants == {
        "A": (5, 5, 4, 2, 2, 700_000, 3_500, 199.0),
        "B": (5, 3, 2, 1, 1, 300_000, 2_100, 141.8571),
    }
    carriers = [
        (c["carrier"], c["recipients"], c["sent"], c["delivered"], c["unique_clicks"],
         c["orders"], c["revenue_vnd"], c["latency_s"]["p50"])
        for c in report["by_carrier"]
    ]  # fmt: skip
    assert carriers == [
        ("viettel", 6, 4, 4, 3, 3, 1_000_000, 5),
        ("mobifone", 2, 2, 1, 0, 0, 0, 60),
        ("vinaphone", 2, 2, 1, 0, 0, 0, 30),
    ]
    inc = report["incremental"]
    assert (inc["treated"], inc["holdout"], inc["treated_buyers"], inc["holdout_buyers"]) == (
        10, 4, 4, 1  # b4 bought though never reached: everyone assigned counts
    )  # fmt: skip
    assert inc["conversion"] == {
        "a": 0.4,
        "b": 0.25,
        "difference": 0.15,
        "ci95": [-0.371789, 0.671789],
        "p_value": 0.596701,
    }
    assert inc["revenue_per_recipient_vnd"] == {
        "a": 108_000.0,
        "b": 37_500.0,
        "difference": 70_500.0,
        "ci95": [-59_562.23, 200_562.23],
        "p_value": 0.29,
    }
    assert (inc["incremental_revenue_vnd"], inc["incremental_roi"], inc["lift"]) == (
        705_000, 124.8929, 0.6
    )  # fmt: skip
    assert inc["verdict"] == "too_small"
    assert inc["words"]["en"] == (
        "The sample is too small to conclude (at least 100 people per group and 10 "
        "conversions are needed)."
    )
    ab = report["ab_test"]
    assert ab["baseline"] == "A"
    [b] = ab["comparisons"]
    assert (b["variant"], b["ctr"]["difference"], b["conversion"]["difference"]) == ("B", 0, -0.2)
    assert (b["ctr"]["verdict"], b["conversion"]["verdict"]) == ("too_small", "too_small")
    daily = report["series"]["daily"]
    assert sum(d["sent"] for d in daily) == 8
    assert sum(d["clicks"] for d in daily) == 3
    assert sum(d["orders"] for d in daily) == 3
    assert sum(d["revenue_vnd"] for d in daily) == 1_000_000
    assert sum(w["cost_vnd"] for w in report["series"]["weekly"]) == 5_600


def test_orders_are_credited_once_and_running_again_changes_nothing(store: Store) -> None:
    _report, ids, now = seeded_report(store)
    with store.engine.begin() as conn:
        again = campaign_report(
            conn, workspace_id=store.workspace_id, campaign_id=ids["campaign"], now=now
        )
        credited = conn.execute(
            select(
                attributions.c.event_id, attributions.c.model, attributions.c.outbox_id
            ).order_by(attributions.c.value_vnd)
        ).all()
    assert (again["orders"], again["revenue_vnd"]) == (3, 1_000_000)
    assert [(m, o) for _, m, o in credited] == [
        ("none", 0),  # b4's order: settled, no message reached b4
        ("none", 0),  # h1's order: the holdout got none
        ("view", ids["a3"]["outbox"]),
        ("click", ids["b1"]["outbox"]),
        ("click", ids["a1"]["outbox"]),
    ]  # a2's order (a day old, nothing within the windows) is looked at again later


def test_campaigns_compare_side_by_side(store: Store) -> None:
    _report, ids, now = seeded_report(store)
    other = seed(store, name="Hè 2026", holdout=0)
    with store.engine.begin() as conn:
        rows = compare_campaigns(
            conn,
            workspace_id=store.workspace_id,
            campaign_ids=[ids["campaign"], other["campaign"]],
            now=now,
        )
        lonely = campaign_report(
            conn, workspace_id=store.workspace_id, campaign_id=other["campaign"], now=now
        )
    assert [
        (r["name"], r["delivered"], r["unique_clicks"], r["orders"], r["roi"]) for r in rows
    ] == [
        ("Tết VIP", 6, 3, 3, 177.5714),
        ("Hè 2026", 6, 0, 0, -1.0),
    ]
    assert lonely["incremental"]["verdict"] == "too_small"
    assert lonely["incremental"]["note"] == "no holdout group"


def test_the_main_app_serves_redirects_and_writes_every_click_when_it_stops(
    store: Store,
) -> None:
    from fastapi import FastAPI

    from loa.config import Settings
    from loa.tracker import attach

    ids = seed(store)
    app = FastAPI()
    app.state.store = store
    app.state.settings = Settings(database_url=str(store.engine.url))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"ok": "yes"}

    attach(app)
    with Served(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/health").json() == {"ok": "yes"}
        for _ in range(25):
            got = http.get(f"/r/{ids['b1']['code']}", headers={"user-agent": IPHONE})
            assert got.status_code == 302
            assert got.headers["location"].endswith("utm_campaign=tet-vip&v=B")
        assert http.get(f"/r/{ids['b2']['code']}", headers={"user-agent": FACEBOOK}).is_redirect
        missing = http.get("/r/zzzzzzz")
        assert missing.status_code == 404
        assert "Link not found" in missing.text
        assert "/r/{code}" not in http.get("/openapi.json").text
    with store.engine.connect() as conn:
        written = conn.execute(
            select(clicks.c.code, clicks.c.human, func.count())
            .group_by(clicks.c.code, clicks.c.human)
            .order_by(clicks.c.code)
        ).all()
    assert sorted(tuple(r) for r in written) == sorted(
        [(ids["b1"]["code"], True, 25), (ids["b2"]["code"], False, 1)]
    )


def test_clicks_wait_while_the_store_is_busy_and_none_is_lost(store: Store) -> None:
    ids = seed(store)
    code = ids["a2"]["code"]
    with Served(create_tracker_app(store)) as url, httpx.Client(base_url=url) as http:
        assert http.get(f"/r/{code}", headers={"user-agent": IPHONE}).is_redirect  # cached
        # Another process holds the write lock on the clicks for a while (a long import).
        blocker = store.engine.connect()
        if store.dialect == "sqlite":
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.exec_driver_sql("LOCK TABLE clicks IN EXCLUSIVE MODE")
        try:
            started = time.perf_counter()
            for _ in range(40):
                assert http.get(f"/r/{code}", headers={"user-agent": IPHONE}).is_redirect
            answered_in = time.perf_counter() - started
            time.sleep(1.0)  # the writer has tried (and waits) in the meantime
            with store.engine.connect() as conn:  # readers are not blocked
                waiting = conn.execute(select(func.count()).select_from(clicks)).scalar_one()
        finally:
            blocker.rollback()
            blocker.close()
        assert answered_in < 5  # redirects do not wait for the store
    assert waiting <= 1
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(clicks)).scalar_one() == 41


def test_the_main_app_started_and_stopped_twice_records_every_click_and_logs_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Test clients and schemathesis run the host app's lifespan once per use: the tracker must
    # start again after a stop, and every stop must write what its run took.
    from fastapi.testclient import TestClient

    from loa.config import Settings
    from loa.server import create_app

    ids = seed(store)
    app = create_app(Settings(database_url=str(store.engine.url)), store=store)
    caplog.set_level(logging.WARNING)
    expected: dict[str, int] = {}
    for key, times in (("a1", 3), ("b1", 2)):  # one run of the lifespan each
        code = ids[key]["code"]
        with TestClient(app, follow_redirects=False) as client:
            for _ in range(times):
                got = client.get(f"/r/{code}", headers={"user-agent": IPHONE})
                assert got.status_code == 302, key
        expected[code] = times
        with store.engine.connect() as conn:  # written by the stop, before the next start
            written = conn.execute(select(clicks.c.code, func.count()).group_by(clicks.c.code))
            assert {c: n for c, n in written} == expected, key
    assert [r.getMessage() for r in caplog.records if r.name.startswith("loa")] == []


def test_the_redirect_app_started_and_stopped_twice_records_every_click_and_logs_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    ids = seed(store)
    app = create_tracker_app(store)  # one Tracker for every run of the lifespan
    caplog.set_level(logging.WARNING)
    for run, times in enumerate((3, 2), start=1):
        with TestClient(app, follow_redirects=False) as client:
            for _ in range(times):
                got = client.get(f"/r/{ids['a1']['code']}", headers={"user-agent": IPHONE})
                assert got.status_code == 302, run
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(clicks)).scalar_one() == (
                3 if run == 1 else 5
            ), run
    assert [r.getMessage() for r in caplog.records if r.name.startswith("loa")] == []


def test_the_outbox_read_side_by_side_or_by_one_connection_states_the_same_figures(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite, while the report's connection holds no write of its own, READERS read-only
    connections read the outbox parts at once (the orders credited meanwhile); one connection
    reading every part gives the same figures."""
    first, ids, now = seeded_report(store)
    if store.dialect != "sqlite":
        return
    parts_read_side_by_side: list[int] = []
    side_by_side = tracking_report._read_parts_side_by_side

    def counted(uri: str, campaign_id: int, every: int, parts: list[Any]) -> Any:
        parts_read_side_by_side.append(len(parts))
        return side_by_side(uri, campaign_id, every, parts)

    monkeypatch.setattr(tracking_report, "_read_parts_side_by_side", counted)
    monkeypatch.setattr(tracking_report, "READ_ROWS", 2)
    for readers in (3, 1):
        monkeypatch.setattr(tracking_report, "READERS", readers)
        tracking_report._REMEMBERED.clear()  # read the rows again, not the groups remembered
        with store.engine.begin() as conn:
            again = campaign_report(
                conn, workspace_id=store.workspace_id, campaign_id=ids["campaign"], now=now
            )
        assert again == first, readers
    # 14 rows in 6 states (6 delivered, 4 holdout, 1 each else), at most 2 rows a part, the
    # last one of a state open-ended: 4 + 3 + 4 x 1 = 11 parts, by three connections, then
    # by one.
    assert parts_read_side_by_side == [11]


def test_the_report_states_the_same_figures_read_in_parts_or_with_odd_codes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the outbox is read as text in parts of READ_ROWS rows and grouped by Polars;
    a code holding the separator sends the grouping back to SQL. Same figures either way."""
    first, ids, now = seeded_report(store)

    def report() -> dict[str, Any]:
        tracking_report._REMEMBERED.clear()  # read the rows again, not the groups remembered
        with store.engine.begin() as conn:
            return campaign_report(
                conn,
                workspace_id=store.workspace_id,
                campaign_id=ids["campaign"],
                now=now,
                attribute_first=False,
            )

    assert report() == first
    monkeypatch.setattr(tracking_report, "READ_ROWS", 2)
    assert report() == first
    with store.engine.begin() as conn:
        conn.execute(
            outbox.update().where(outbox.c.id == ids["a1"]["outbox"]).values(code="E\x1e1")
        )
    odd = report()
    odd_code = {"status": "delivered", "code": "E\x1e1", "count": 1}
    assert odd_code in odd["codes"]
    assert [c for c in odd["codes"] if c != odd_code] == first["codes"]
    assert {k: v for k, v in odd.items() if k != "codes"} == {
        k: v for k, v in first.items() if k != "codes"
    }
