"""Faults under traffic: one of two processes killed (clients move to the other), PostgreSQL and
Redis restarted (clients get error acks, then the same server processes recover on their own).
Nothing acknowledged is lost; nothing is stored twice. Databases and Redis that get restarted are
private instances started here (tests/faults.py), never the machine's shared ones."""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import _schema_url
from tests.faults import PrivatePostgres, PrivateRedis
from tests.realtime.conftest import PG, _reachable
from tests.servers import Peer, Server, open_conversation

pytestmark = pytest.mark.slow


def _send(peer: Peer, case_id: int, client_id: str, timeout: float = 5) -> dict[str, Any]:
    try:
        return peer.call("message", {"case_id": case_id, "text": f"text {client_id}", "client_id": client_id},  # type: ignore[no-any-return]
                         timeout=timeout)
    except Exception as exc:
        return {"ok": False, "error": {"code": type(exc).__name__}}


def _check_history(peer: Peer, case_id: int, acked: dict[str, int]) -> list[dict[str, Any]]:
    """Every acknowledged message is stored once; seq is 1..n without a gap."""
    history = peer.call("sync", {"case_id": case_id, "after_seq": 0})["messages"]
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    by_client: dict[str, list[int]] = {}
    for m in history:
        if m["client_id"]:
            by_client.setdefault(f"{m['sender']}:{m['client_id']}", []).append(m["id"])
    for key, ids in by_client.items():
        assert len(ids) == 1, f"{key} stored {len(ids)} times"
    stored = {m["id"] for m in history}
    missing = {k: v for k, v in acked.items() if v not in stored}
    assert not missing, f"acknowledged but not stored: {missing}"
    return history  # type: ignore[no-any-return]


def test_kill_one_of_two_processes_clients_carry_on_with_the_other(cluster: tuple[Server, Server],
                                                                   peers: Any) -> None:
    a, b = cluster
    slug, key = a.brand(offer_timeout_s=30)
    a.topic(key, "cards", examples=["where is my card"])
    _, token = a.expert(slug, key, ["cards"])
    customer, expert, case_id, customer_token = open_conversation(a, b, peers, slug, token)
    acked: dict[str, int] = {}
    for i in range(5):
        ack = _send(customer, case_id, f"c{i}")
        assert ack["ok"]
        acked[f"customer:c{i}"] = ack["message"]["id"]
    expert.wait_for("message", lambda d: d["client_id"] == "c4")
    a.kill()  # the customer's process dies mid-conversation
    # The customer's client reconnects (the load balancer now sends it to B), resumes by token,
    # catches up with sync and carries on; the expert on B never noticed.
    customer = peers(b.url, "/customer", {"brand": slug, "token": customer_token})
    assert customer.wait_for("session")["customer_id"] is not None
    _check_history(customer, case_id, acked)
    resent = _send(customer, case_id, "c4")  # a resend of the last one is not a duplicate
    assert resent["ok"] and resent["message"]["id"] == acked["customer:c4"]
    for i in range(5, 10):
        ack = _send(customer, case_id, f"c{i}")
        assert ack["ok"]
        acked[f"customer:c{i}"] = ack["message"]["id"]
        expert.wait_for("message", lambda d, c=f"c{i}": d["client_id"] == c)
        reply = _send(expert, case_id, f"e{i}")
        assert reply["ok"]
        acked[f"expert:e{i}"] = reply["message"]["id"]
        customer.wait_for("message", lambda d, c=f"e{i}": d["client_id"] == c)
    _check_history(customer, case_id, acked)
    # New work flows through the survivor too.
    second = customer.call("ask", {"text": "where is my card again", "client_id": "q2"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == second)
    assert expert.call("accept", {"case_id": second})["ok"]


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        pg = PrivatePostgres()
    except Exception as exc:
        pytest.skip(f"cannot run a private PostgreSQL: {exc}")
    pg.start()
    yield pg
    pg.destroy()


def test_postgres_restart_under_traffic(private_pg: PrivatePostgres, tmp_path: Path, peers: Any) -> None:
    server = Server(private_pg.url, tmp_path / "instance").start()
    try:
        slug, key = server.brand(offer_timeout_s=60)
        server.topic(key, "cards", examples=["where is my card"])
        _, token = server.expert(slug, key, ["cards"])
        customer, expert, case_id, _ = open_conversation(server, server, peers, slug, token)
        acked: dict[str, int] = {}
        refused: list[str] = []
        outage_codes: set[str] = set()
        healthz: set[int] = set()
        down_at = up_at = None
        for i in range(400):
            if i == 10:
                private_pg.stop("fast")
                down_at = time.monotonic()
            if down_at and not up_at and time.monotonic() - down_at > 3:
                private_pg.start()
                up_at = time.monotonic()
            peer, who = (customer, "customer") if i % 2 else (expert, "expert")
            ack = _send(peer, case_id, f"m{i}")
            if ack["ok"]:
                acked[f"{who}:m{i}"] = ack["message"]["id"]
            else:
                refused.append(f"{who}:m{i}")
                outage_codes.add(ack["error"]["code"])
            if down_at and not up_at:
                healthz.add(requests.get(server.url + "/healthz", timeout=10).status_code)
            if up_at and len([k for k in acked if int(k.split(":m")[1]) > 10]) >= 20:
                break
            time.sleep(0.05)
        assert refused, "the outage was not noticed"
        assert outage_codes <= {"internal", "TimeoutError"}, outage_codes
        assert 503 in healthz
        assert server.proc is not None and server.proc.poll() is None, "the server died"
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        # Recovery without a restart: later messages succeed and arrive live.
        ack = _send(customer, case_id, "after")
        assert ack["ok"], ack
        acked["customer:after"] = ack["message"]["id"]
        expert.wait_for("message", lambda d: d["client_id"] == "after")
        # Clients retry what was refused, with the same client_id: stored once each.
        for key_ in refused:
            who, client_id = key_.split(":")
            retry = _send(customer if who == "customer" else expert, case_id, client_id)
            assert retry["ok"], retry
            acked[key_] = retry["message"]["id"]
        _check_history(customer, case_id, acked)
    finally:
        server.stop()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[tuple[Server, Server, PrivateRedis]]:
    """Two processes on a fresh schema of the shared PostgreSQL and a PRIVATE Redis."""
    problem = _reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(f"needs PostgreSQL: {problem}")
    try:
        redis = PrivateRedis()
    except Exception as exc:
        pytest.skip(str(exc))
    redis.start()
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(PG, schema)
    a = Server(url, tmp_path / "a", redis_url=redis.url)
    b = Server(url, tmp_path / "b", redis_url=redis.url)
    try:
        a.start()
        b.start()
        yield a, b, redis
    finally:
        a.stop()
        b.stop()
        redis.stop()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_redis_restart_under_traffic(redis_cluster: tuple[Server, Server, PrivateRedis], peers: Any) -> None:
    a, b, redis = redis_cluster
    slug, key = a.brand(offer_timeout_s=60)
    a.topic(key, "cards", examples=["where is my card"])
    _, token = a.expert(slug, key, ["cards"])
    customer, expert, case_id, _ = open_conversation(a, b, peers, slug, token)  # across the two processes
    acked: dict[str, int] = {}
    assert _send(customer, case_id, "before")["ok"]
    expert.wait_for("message", lambda d: d["client_id"] == "before")
    redis.stop()
    refused = []
    for i in range(6):
        ack = _send(customer, case_id, f"down{i}")
        if ack["ok"]:  # stored and acknowledged; live delivery may be lost, sync has it
            acked[f"customer:down{i}"] = ack["message"]["id"]
        else:
            refused.append(f"customer:down{i}")
            assert ack["error"]["code"] in ("internal", "TimeoutError"), ack
    assert refused, "the Redis outage was not noticed"
    assert requests.get(a.url + "/healthz", timeout=10).status_code == 503
    redis.start()
    # Recovery without restarting either process: live delivery across them resumes (the
    # Socket.IO queue listener re-subscribes with a back-off of 1, 2, 4 ... s).
    deadline = time.monotonic() + 30
    n = 0
    while True:
        n += 1
        ack = _send(customer, case_id, f"up{n}")
        if ack["ok"]:
            acked[f"customer:up{n}"] = ack["message"]["id"]
            try:
                expert.wait_for("message", lambda d, c=f"up{n}": d["client_id"] == c, timeout=2)
                break
            except AssertionError:
                pass
        assert time.monotonic() < deadline, "live delivery did not recover"
    reply = _send(expert, case_id, "reply")
    assert reply["ok"]
    acked["expert:reply"] = reply["message"]["id"]
    customer.wait_for("message", lambda d: d["client_id"] == "reply")
    assert requests.get(a.url + "/healthz", timeout=10).status_code == 200
    for key_ in refused:
        retry = _send(customer, case_id, key_.split(":")[1])
        assert retry["ok"], retry
        acked[key_] = retry["message"]["id"]
    _check_history(expert, case_id, acked)
    assert a.proc is not None and a.proc.poll() is None and b.proc is not None and b.proc.poll() is None
