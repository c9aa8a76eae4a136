"""Load shedding: a lagging process refuses new asks and messages with `overloaded`, stores
nothing for them, and keeps serving everything else."""
from __future__ import annotations

import time
from typing import Any

import requests

from gigcx.extensions import socketio
from tests.conftest import ADMIN_TOKEN, Api


def _customer(app: Any) -> Any:
    r = Api(app.test_client()).post("/brands", ADMIN_TOKEN, json={"slug": "acme", "name": "Acme"})
    assert r.status_code == 201, r.get_data(as_text=True)
    return socketio.test_client(app, namespace="/customer", auth={"brand": "acme"})


def test_a_lagging_process_refuses_asks_and_messages_and_stores_nothing(app: Any) -> None:
    lag = app.extensions["gigcx_lag"]
    customer = _customer(app)
    lag.lag_s = 1.0  # the loop runs timers a second late: over the 250 ms default
    refused = customer.emit("ask", {"text": "where is my card", "client_id": "q1"}, namespace="/customer",
                            callback=True)
    assert refused["ok"] is False and refused["error"]["code"] == "overloaded"
    assert refused["error"]["retry_after_ms"] >= 1000
    assert customer.emit("cases", {}, namespace="/customer", callback=True)["cases"] == []  # nothing stored

    lag.lag_s = 0.0  # caught up: the same ask (same client_id) goes through
    case = customer.emit("ask", {"text": "where is my card", "client_id": "q1"}, namespace="/customer",
                         callback=True)["case"]
    lag.lag_s = 1.0
    msg = customer.emit("message", {"case_id": case["id"], "text": "hello?", "client_id": "m1"},
                        namespace="/customer", callback=True)
    assert msg["ok"] is False and msg["error"]["code"] == "overloaded"
    synced = customer.emit("sync", {"case_id": case["id"], "after_seq": 0}, namespace="/customer", callback=True)
    assert synced["ok"] and [m["text"] for m in synced["messages"]] == ["where is my card"]  # sync still served
    lag.lag_s = 0.0
    again = customer.emit("message", {"case_id": case["id"], "text": "hello?", "client_id": "m1"},
                          namespace="/customer", callback=True)
    assert again["ok"] and again["message"]["seq"] == 2
    customer.disconnect(namespace="/customer")


def test_shedding_is_off_when_the_limit_is_zero(app: Any) -> None:
    app.config["GIGCX"].shed_lag_ms = 0
    app.extensions["gigcx_lag"].lag_s = 5.0
    customer = _customer(app)
    ack = customer.emit("ask", {"text": "where is my card", "client_id": "q1"}, namespace="/customer", callback=True)
    assert ack["ok"], ack
    customer.disconnect(namespace="/customer")


def test_a_serving_process_measures_its_loop_lag(servers: Any, peers: Any) -> None:
    """`gigcx serve` runs the monitor: with a limit below any real lag, every ask is refused."""
    server = servers(env={"GIGCX_SHED_LAG_MS": "0.000001"})
    slug, key = server.brand()
    server.topic(key, "cards")
    customer = peers(server.url, "/customer", {"brand": slug})
    time.sleep(0.5)  # two measurements: a single late wake-up is not a backlog
    ack = customer.call("ask", {"text": "where is my card", "client_id": "q"})
    assert ack["ok"] is False and ack["error"]["code"] == "overloaded"
    assert customer.call("cases")["cases"] == []
    body = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5).text
    counts = {line.split(" ")[0]: float(line.split(" ")[1]) for line in body.splitlines()
              if line and not line.startswith("#")}
    assert counts["gigcx_event_loop_lag_seconds_count"] >= 1
    assert counts['gigcx_shed_events_total{event="ask"}'] >= 1


def test_an_exhausted_connection_pool_refuses_asks_and_messages(app: Any) -> None:
    """Every pooled connection busy (a PostgreSQL process past its capacity): new asks are refused
    at once instead of queueing for a connection until the pool's timeout."""
    engine = app.extensions["gigcx_engine"]
    if engine.dialect.name != "postgresql":
        import pytest

        pytest.skip("SQLite has one connection that every transaction takes in turn: never shed for it")
    customer = _customer(app)
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        refused = customer.emit("ask", {"text": "where is my card", "client_id": "q1"}, namespace="/customer",
                                callback=True)
        assert refused["ok"] is False and refused["error"]["code"] == "overloaded"
        assert refused["error"]["retry_after_ms"] > 0
    finally:
        for conn in held:
            conn.close()
    ack = customer.emit("ask", {"text": "where is my card", "client_id": "q1"}, namespace="/customer", callback=True)
    assert ack["ok"], ack
    assert [c["id"] for c in customer.emit("cases", {}, namespace="/customer", callback=True)["cases"]] == [ack["case"]["id"]]
    customer.disconnect(namespace="/customer")


def test_a_pool_is_exhausted_only_when_its_bounded_capacity_is_checked_out() -> None:
    """The predicate itself, on real pools: a bounded pool counts as exhausted with every
    connection out; a pool without an overflow limit, or with a single connection, never does."""
    import sqlalchemy as sa
    from sqlalchemy.pool import QueuePool

    from gigcx.loadshed import pool_exhausted

    bounded = sa.create_engine("sqlite://", poolclass=QueuePool, pool_size=1, max_overflow=1)
    unbounded = sa.create_engine("sqlite://", poolclass=QueuePool, pool_size=1, max_overflow=-1)
    single = sa.create_engine("sqlite://", poolclass=QueuePool, pool_size=1, max_overflow=0)
    held = [bounded.connect()]
    assert not pool_exhausted(bounded)
    held.append(bounded.connect())
    assert pool_exhausted(bounded)
    held += [unbounded.connect() for _ in range(3)]
    assert not pool_exhausted(unbounded)
    held.append(single.connect())
    assert not pool_exhausted(single)
    for conn in held:
        conn.close()
    assert not pool_exhausted(bounded)
