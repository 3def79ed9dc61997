"""Which route a message takes: carrier, priority, and failover while a route is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loa.services.dispatch.routes import Route, choose

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def route(name: str, **values: object) -> Route:
    base: dict[str, object] = {
        "id": hash(name) % 1000,
        "workspace_id": 1,
        "name": name,
        "kind": "smpp",
        "channel": "sms",
        "settings": {},
        "carriers": None,
        "tps": None,
        "window": 10,
        "priority": 0,
        "failover": None,
        "enabled": True,
        "down_until": None,
    }
    base.update(values)
    return Route(**base)  # type: ignore[arg-type]


def test_the_carriers_own_route_wins_and_its_failover_takes_over_while_it_is_down() -> None:
    viettel = route("viettel", carriers=("viettel",), priority=10, failover="aggregator")
    aggregator = route("aggregator")
    email = route("mail", kind="smtp", channel="email")
    routes = [viettel, aggregator, email]
    assert choose(routes, "sms", "Viettel", NOW) == viettel
    assert choose(routes, "sms", "MobiFone", NOW) == aggregator
    assert choose(routes, "email", None, NOW) == email
    down = route("viettel", carriers=("viettel",), priority=10, failover="aggregator",
                 down_until=NOW + timedelta(seconds=5))  # fmt: skip
    assert choose([down, aggregator], "sms", "Viettel", NOW) == aggregator
    assert choose([down, aggregator], "sms", "Viettel", NOW + timedelta(seconds=6)) == down


def test_no_route_serves_a_carrier_nobody_routes() -> None:
    only_viettel = route("viettel", carriers=("viettel",))
    assert choose([only_viettel], "sms", "VinaPhone", NOW) is None
    assert choose([route("off", enabled=False)], "sms", "Viettel", NOW) is None
