"""Several processes as one service (PostgreSQL + Redis), and a SIGKILL mid-conversation."""
from __future__ import annotations

import time
from typing import Any

import requests

from tests.servers import Server, open_conversation


def _healthy(server: Server) -> bool:
    try:
        return requests.get(server.url + "/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def test_conversation_across_two_processes(cluster: tuple[Server, Server], peers: Any) -> None:
    a, b = cluster
    slug, key = a.brand(offer_timeout_s=30, offer_fanout=2)
    a.topic(key, "cards", examples=["where is my card"])
    a.topic(key, "loans", examples=["loan rates"])
    _, t1 = a.expert(slug, key, ["cards"], name="On B")
    _, t2 = a.expert(slug, key, ["cards"], name="Also on B")
    e1 = peers(b.url, "/expert", {"token": t1})
    e2 = peers(a.url, "/expert", {"token": t2})
    e1.call("availability", {"online": True})
    e2.call("availability", {"online": True})
    feed = peers(b.url, "/brand", {"api_key": key})
    customer = peers(a.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    e1.wait_for("offer", lambda d: d["case_id"] == case_id)
    e2.wait_for("offer", lambda d: d["case_id"] == case_id)
    assert e1.call("accept", {"case_id": case_id})["ok"]
    assert e2.call("accept", {"case_id": case_id})["error"]["code"] == "already_taken"
    e2.wait_for("offer_withdrawn", lambda d: d["case_id"] == case_id)
    customer.wait_for("case", lambda d: d["status"] == "active")
    e1.call("typing", {"case_id": case_id})
    customer.wait_for("typing")
    e1.call("message", {"case_id": case_id, "text": "from process B", "client_id": "e"})
    assert customer.wait_for("message", lambda d: d["sender"] == "expert")["text"] == "from process B"
    customer.call("message", {"case_id": case_id, "text": "from process A", "client_id": "c"})
    assert e1.wait_for("message", lambda d: d["sender"] == "customer" and d["seq"] > 1)["text"] == "from process A"
    e1.call("resolve", {"case_id": case_id})
    customer.call("resolve", {"case_id": case_id, "resolved": True})
    feed.wait_for("case", lambda d: d["id"] == case_id and d["status"] == "resolved")


def test_timers_fire_once_with_two_processes(cluster: tuple[Server, Server], peers: Any) -> None:
    a, b = cluster
    slug, key = a.brand(escalate_after_s=1)
    a.topic(key, "cards", examples=["where is my card"])
    customers = [peers((a, b)[i % 2].url, "/customer", {"brand": slug}) for i in range(6)]
    ids = [c.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"] for c in customers]
    for c, case_id in zip(customers, ids):
        c.wait_for("case", lambda d, i=case_id: d["id"] == i and d["status"] == "escalated", timeout=10)
    time.sleep(1.5)  # both processes have polled several times since
    for c, case_id in zip(customers, ids):
        messages = c.call("sync", {"case_id": case_id})["messages"]
        assert [m["sender"] for m in messages] == ["customer", "system"], messages


def test_sigkill_mid_conversation_loses_nothing_and_timers_still_fire(own_server: Server, peers: Any) -> None:
    server = own_server
    # the offer's timeout outlasts the restart (seconds on a slow machine): an offer that expired
    # while the expert was disconnected would be withdrawn with nobody there to see it
    slug, key = server.brand(confirm_window_s=6, offer_timeout_s=20)
    server.topic(key, "cards", examples=["where is my card"])
    server.topic(key, "loans", examples=["loan rates"])
    _, token = server.expert(slug, key, ["cards", "loans"])
    customer, expert, case_id, customer_token = open_conversation(server, server, peers, slug, token)
    acked = []
    for i in range(20):
        who, peer = ("customer", customer) if i % 2 else ("expert", expert)
        ack = peer.call("message", {"case_id": case_id, "text": f"{who} {i}", "client_id": f"m{i}"})
        assert ack["ok"]
        acked.append(ack["message"]["id"])
    expert.call("resolve", {"case_id": case_id})  # the confirmation timer is now pending
    second = customer.call("ask", {"text": "loan rates", "client_id": "q2"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == second)  # an offer timer is pending too
    server.kill()
    server.start()
    customer = peers(server.url, "/customer", {"brand": slug, "token": customer_token})
    expert = peers(server.url, "/expert", {"token": token})
    history = customer.call("sync", {"case_id": case_id})["messages"]
    assert set(acked) <= {m["id"] for m in history}
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    # The pending confirmation fires after the restart, once.
    deadline = time.monotonic() + 10
    while customer.call("sync", {"case_id": case_id})["case"]["status"] != "resolved":
        assert time.monotonic() < deadline, "confirmation timer did not fire after restart"
        time.sleep(0.3)
    notices = [m for m in customer.call("sync", {"case_id": case_id})["messages"]
               if m["text"].startswith("Marked as solved")]
    assert len(notices) == 1
    # The offer made before the crash expires after the restart, exactly once.
    expert.wait_for("offer_withdrawn", lambda d: d["case_id"] == second, timeout=30)
    time.sleep(1)
    assert len([d for d in expert.received("offer_withdrawn") if d["case_id"] == second]) == 1


def test_a_restart_mid_conversation_loses_and_duplicates_nothing(cluster: tuple[Server, Server], peers: Any) -> None:
    """SIGTERM to the customer's process while the customer keeps writing (the expert is on the
    other process), then start it again, as a rolling restart does. The customer behaves like
    the widget: resend with the same client_id after `overloaded` or a dropped connection,
    reconnecting with its token. Every message is stored exactly once, in order, and reaches the
    expert live; the stopped process exits 0 after draining."""
    import signal
    import threading

    a, b = cluster
    slug, key = a.brand(offer_timeout_s=30)
    a.topic(key, "cards", examples=["where is my card"])
    _, token = a.expert(slug, key, ["cards"])
    customer, expert, case_id, customer_token = open_conversation(a, b, peers, slug, token)

    def restart() -> None:
        time.sleep(1.0)
        assert a.proc is not None
        a.proc.send_signal(signal.SIGTERM)
        a.proc.wait(60)
        a.start()

    restarter = threading.Thread(target=restart)
    restarter.start()
    acked: dict[str, int] = {}
    refused = reconnects = 0
    deadline = time.monotonic() + 180
    for i in range(40):
        client_id = f"c{i}"
        while client_id not in acked:
            assert time.monotonic() < deadline, f"stuck at {client_id}: {a.log()}"
            try:
                ack = customer.call("message", {"case_id": case_id, "text": f"customer {i}", "client_id": client_id},
                                    timeout=5)
            except Exception:  # the connection dropped (or the ack was lost with it): reconnect, resend
                ack = None
            if ack is not None and ack["ok"]:
                acked[client_id] = ack["message"]["id"]
            elif ack is not None:
                assert ack["error"]["code"] == "overloaded", ack
                refused += 1
                time.sleep(ack["error"]["retry_after_ms"] / 1000)
            elif _healthy(a):  # back (a refused WebSocket attempt leaks websocket-client's socket)
                customer = peers(a.url, "/customer", {"brand": slug, "token": customer_token})
                reconnects += 1
            else:
                time.sleep(0.2)
        time.sleep(0.05)
    restarter.join(120)
    assert reconnects >= 1, "the restart never interrupted the conversation"
    assert a.proc is not None and "GigCX stopped" in a.log()
    history = customer.call("sync", {"case_id": case_id})["messages"]
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    texts = [m["text"] for m in history if m["sender"] == "customer"]
    assert texts == ["where is my card"] + [f"customer {i}" for i in range(40)]  # once each, in order
    assert set(acked.values()) <= {m["id"] for m in history}
    for message_id in acked.values():  # delivered live across processes, restart or not
        expert.wait_for("message", lambda d, m=message_id: d["id"] == m, timeout=15)
