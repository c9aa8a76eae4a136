"""Chat messages sent at once from several sockets to a real `gigcx serve` process: each acked
once, stored once and delivered live, whatever transaction they shared (on SQLite a
serving process commits the messages of one loop turn together: gigcx.uow.GroupCommit)."""
from __future__ import annotations

import concurrent.futures as cf
from typing import Any

import requests

from tests.servers import ADMIN_TOKEN, Server, open_conversation


def _metric(server: Server, name: str) -> float:
    body = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).text
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_messages_sent_at_once_are_each_stored_and_delivered_once(own_server: Server, peers: Any) -> None:
    server = own_server
    slug, key = server.brand(offer_timeout_s=30)
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"])
    first, expert, case_id, customer_token = open_conversation(server, server, peers, slug, token)
    # the same customer on three sockets, and the expert: four writers in one conversation
    writers = [first] + [peers(server.url, "/customer", {"brand": slug, "token": customer_token}) for _ in range(2)]
    writers.append(expert)
    before = _metric(server, "gigcx_commit_group_size_sum")

    def send(i: int) -> Any:
        return writers[i % len(writers)].call("message", {"case_id": case_id, "text": f"message {i}",
                                                          "client_id": f"m{i}"})

    with cf.ThreadPoolExecutor(16) as pool:
        acks = list(pool.map(send, range(80)))
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]]
    seqs = sorted(a["message"]["seq"] for a in acks)
    assert len(set(seqs)) == 80 and seqs == list(range(seqs[0], seqs[0] + 80))  # each once, no gap
    grouped = _metric(server, "gigcx_commit_group_size_sum") - before

    # a resend of one of them is answered with what was stored, and stores nothing
    again = writers[1].call("message", {"case_id": case_id, "text": "message 1", "client_id": "m1"})
    assert again["ok"] and again["message"]["seq"] == acks[1]["message"]["seq"]

    stored = first.call("sync", {"case_id": case_id})["messages"]
    texts = [m["text"] for m in stored if m["text"].startswith("message ")]
    assert sorted(texts) == sorted(f"message {i}" for i in range(80))
    by_seq = {m["seq"]: m for m in stored}
    for a in acks:  # the ack is the stored message
        assert by_seq[a["message"]["seq"]]["text"] == a["message"]["text"]

    # delivered live to the expert (the customers' 60) and to the customers (the expert's 20)
    expert.wait_for("message", lambda d: d["text"] == "message 78")  # the last customer message
    live = {d["seq"] for d in expert.received("message") if d["text"].startswith("message ")}
    assert {a["message"]["seq"] for i, a in enumerate(acks) if i % 4 != 3} <= live
    first.wait_for("message", lambda d: d["text"] == "message 79")
    heard = [d["seq"] for d in first.received("message") if d["text"].startswith("message ")]
    assert {a["message"]["seq"] for i, a in enumerate(acks) if i % 4 == 3} <= set(heard)

    if server.env["GIGCX_DATABASE_URL"].startswith("sqlite"):
        assert grouped == 80  # every stored message went through group commit
        # one process, one connection: events go out in commit order, which is seq order
        assert heard == sorted(heard)
    else:
        assert grouped == 0  # PostgreSQL: a transaction per message
