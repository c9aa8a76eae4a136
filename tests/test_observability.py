"""Prometheus metrics, health check and JSON logs."""
from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests

from gigcx.observability import JsonFormatter
from tests.polling import metrics
from tests.servers import ADMIN_TOKEN

OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_health_and_metrics_of_a_live_server(server: Any, peers: Any) -> None:
    health = requests.get(server.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}
    slug, key = server.brand()
    server.topic(key, "cards")
    customer = peers(server.url, "/customer", {"brand": slug})
    customer.call("ask", {"text": "where is my card", "client_id": "q"})
    customer.call("ask", "bad payload")
    body = requests.get(server.url + "/metrics", headers=OPERATOR, timeout=5).text
    assert 'gigcx_connected_sockets{namespace="/customer"} 1.0' in body
    assert 'gigcx_event_seconds_count{event="ask",namespace="/customer",outcome="ok"} 1.0' in body
    assert 'gigcx_event_seconds_count{event="ask",namespace="/customer",outcome="invalid"} 1.0' in body
    assert 'gigcx_cases{status="matching"}' in body
    assert "gigcx_routing_seconds_bucket" in body


def test_metrics_show_where_the_memory_is(server: Any) -> None:
    """Resident memory and CPU (prometheus_client's process collector), and memory by owner: the
    C allocator, Python's blocks and, on SQLite, SQLite's own (its page cache holds the pages a
    serving process has read)."""
    counts = metrics(server)
    assert counts["process_resident_memory_bytes"] > 10 * 2**20
    assert counts["process_cpu_seconds_total"] > 0
    assert counts["gigcx_python_allocated_blocks"] > 10_000
    assert counts['gigcx_malloc_bytes{state="in_use"}'] > 2**20 and 'gigcx_malloc_bytes{state="free"}' in counts
    if server.env["GIGCX_DATABASE_URL"].startswith("sqlite"):
        assert counts["gigcx_sqlite_memory_bytes"] > 0
        assert counts["gigcx_sqlite_memory_highwater_bytes"] >= counts["gigcx_sqlite_memory_bytes"]


def test_sqlite_memory_gauge_counts_every_connection_of_the_process(tmp_path: Any) -> None:
    """`gigcx_sqlite_memory_bytes` reads SQLite's own counter: a page cache filled by reading a
    table shows in it, and is given back when the connection closes."""
    import sqlite3

    from prometheus_client import CollectorRegistry

    from gigcx.observability import MemoryByOwner

    registry = CollectorRegistry()
    registry.register(MemoryByOwner())
    path = tmp_path / "pages.sqlite3"
    with sqlite3.connect(path) as writer:
        writer.execute("CREATE TABLE t (x TEXT)")
        writer.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 4000)  # ~2 MB of pages
    writer.close()
    before = registry.get_sample_value("gigcx_sqlite_memory_bytes")
    reader = sqlite3.connect(path)
    assert len(reader.execute("SELECT x FROM t").fetchall()) == 4000
    filled = registry.get_sample_value("gigcx_sqlite_memory_bytes")
    assert filled - before > 1_000_000  # the pages read stay cached
    assert registry.get_sample_value("gigcx_sqlite_memory_highwater_bytes") >= filled
    reader.close()
    assert registry.get_sample_value("gigcx_sqlite_memory_bytes") < filled - 1_000_000


def test_json_log_lines_carry_case_ids() -> None:
    record = logging.makeLogRecord({"name": "gigcx.cases", "msg": "case opened", "levelname": "INFO",
                                    "case_id": 7, "topic": "cards"})
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "case opened" and line["case_id"] == 7 and line["topic"] == "cards"


def test_delivery_latency_offers_and_json_logs_with_case_ids(servers: Any, peers: Any) -> None:
    """A conversation shows in the message-delivery histogram and the offer counters, and the
    JSON log lines of a live server carry the case id."""
    server = servers(env={"GIGCX_LOG_FORMAT": "json"})
    slug, key = server.brand()
    server.topic(key, "cards", examples=["where is my card"])
    _, token = server.expert(slug, key, ["cards"])
    expert = peers(server.url, "/expert", {"token": token})
    expert.call("availability", {"online": True})
    customer = peers(server.url, "/customer", {"brand": slug})
    case_id = customer.call("ask", {"text": "where is my card", "client_id": "q"})["case"]["id"]
    expert.wait_for("offer", lambda d: d["case_id"] == case_id)
    expert.call("accept", {"case_id": case_id})
    expert.call("message", {"case_id": case_id, "text": "hello", "client_id": "e1"})
    customer.wait_for("message", lambda d: d["client_id"] == "e1")
    counts = metrics(server)
    assert counts["gigcx_message_delivery_seconds_count"] >= 2  # the question and the answer, at least
    assert counts['gigcx_offers_total{outcome="offered"}'] >= 1
    assert counts['gigcx_offers_total{outcome="accepted"}'] >= 1
    assert counts['gigcx_connected_sockets{namespace="/expert"}'] == 1
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    opened = [entry for entry in lines if entry["msg"] == "case opened"]
    assert opened and opened[0]["case_id"] == case_id and opened[0]["level"] == "INFO"


def test_serving_gc_is_frozen_after_startup_and_its_pauses_are_measured() -> None:
    """`gigcx serve` freezes what start-up built and times every collection; run in a child
    process, as it changes the interpreter's collector for good."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from gigcx.observability import GC_THRESHOLDS, GC_PAUSES, REGISTRY, tune_gc_for_serving\n"
        "tune_gc_for_serving()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert gc.get_threshold() == GC_THRESHOLDS\n"
        "gc.collect(0); gc.collect(2)\n"
        "print(REGISTRY.get_sample_value('gigcx_gc_pause_seconds_count', {'generation': '0'}),"
        " REGISTRY.get_sample_value('gigcx_gc_pause_seconds_count', {'generation': '2'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    gen0, gen2 = (float(v) for v in out.stdout.split())
    assert gen0 >= 1 and gen2 >= 1


def test_gc_thresholds_come_from_the_environment_or_the_defaults() -> None:
    from gigcx.config import ConfigError, Settings
    from gigcx.observability import GC_THRESHOLDS

    assert Settings.load({}).gc_thresholds == Settings.load({"GIGCX_GC_THRESHOLDS": ""}).gc_thresholds \
        == GC_THRESHOLDS == (7000, 10, 10)
    assert Settings.load({"GIGCX_GC_THRESHOLDS": "3000,10,100"}).gc_thresholds == (3000, 10, 100)
    for bad in ("3000,10", "a,b,c", "0,10,10", "700,-1,10"):
        with pytest.raises(ConfigError, match="GIGCX_GC_THRESHOLDS"):
            Settings.load({"GIGCX_GC_THRESHOLDS": bad})


def test_periodic_freeze_keeps_serving_objects_out_of_full_collections_and_reclaim_frees_garbage() -> None:
    """GcFreezer on a fake clock, in a child process (it changes the collector for good): a
    freeze takes the survivors out of full collections; garbage frozen meanwhile survives full
    collections until the next reclaim, which frees it and freezes the rest again."""
    import subprocess
    import sys

    code = (
        "import gc, weakref\n"
        "from gigcx.observability import GcFreezer, REGISTRY\n"
        "now = [0.0]\n"
        "f = GcFreezer(60, 3600, clock=lambda: now[0])\n"
        "class Conn:\n"
        "    pass\n"
        "live = [Conn() for _ in range(1000)]\n"
        "for c in live: c.me = c\n"  # cycles, like a connection's objects
        "dead = Conn(); dead.me = dead; gone = weakref.ref(dead)\n"
        "now[0] = 59; assert f.tick() is None\n"
        "now[0] = 60; assert f.tick() == 'freeze'\n"
        "frozen = gc.get_freeze_count(); assert frozen >= 1001, frozen\n"
        "assert all(gc.is_tracked(c) for c in live)\n"
        "del dead; gc.collect()\n"
        "assert gone() is not None\n"  # frozen garbage: not collected by a full collection
        "now[0] = 119; assert f.tick() is None\n"
        "now[0] = 120; assert f.tick() == 'freeze'\n"
        "now[0] = 3600; assert f.tick() == 'reclaim'\n"
        "assert gone() is None\n"  # the reclaim collected it
        "assert gc.get_freeze_count() >= 1000\n"  # the live ones are frozen again
        "print(REGISTRY.get_sample_value('gigcx_gc_freezes_total', {'kind': 'freeze'}),"
        " REGISTRY.get_sample_value('gigcx_gc_freezes_total', {'kind': 'reclaim'}),"
        " REGISTRY.get_sample_value('gigcx_gc_frozen_objects'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    freezes, reclaims, frozen = (float(v) for v in out.stdout.split())
    assert (freezes, reclaims) == (2, 1) and frozen >= 1000


def test_gc_freezer_settings_come_from_the_environment() -> None:
    from gigcx.config import ConfigError, Settings
    from gigcx.observability import GcFreezer

    default = GcFreezer.from_settings(Settings.load({}))
    assert default is not None and (default.freeze_s, default.reclaim_s) == (60, 3600)
    assert GcFreezer.from_settings(Settings.load({"GIGCX_GC_FREEZE_S": "0"})) is None
    never = GcFreezer.from_settings(Settings.load({"GIGCX_GC_FREEZE_S": "30", "GIGCX_GC_RECLAIM_S": "0"}))
    assert never is not None and never.reclaim_s == 0
    for bad in ({"GIGCX_GC_FREEZE_S": "soon"}, {"GIGCX_GC_FREEZE_S": "-1"}, {"GIGCX_GC_FREEZE_S": "nan"},
                {"GIGCX_GC_FREEZE_S": "60", "GIGCX_GC_RECLAIM_S": "30"}):
        with pytest.raises(ConfigError, match="GIGCX_GC_"):
            Settings.load(bad)


def test_memory_tracer_logs_rss_the_traced_heap_and_what_grew(caplog: Any) -> None:
    """GIGCX_TRACEMALLOC_S (off by default): each tick logs the totals, then the allocation
    sites that grew most since the last tick, the biggest first."""
    import logging
    import tracemalloc

    from gigcx.config import ConfigError, Settings
    from gigcx.observability import MemoryTracer

    assert Settings.load({}).tracemalloc_s == 0
    assert Settings.load({"GIGCX_TRACEMALLOC_S": "60"}).tracemalloc_s == 60
    assert Settings.load({}).tracemalloc_frames == 8
    assert Settings.load({"GIGCX_TRACEMALLOC_FRAMES": "1"}).tracemalloc_frames == 1
    with pytest.raises(ConfigError, match="GIGCX_TRACEMALLOC_FRAMES"):
        Settings.load({"GIGCX_TRACEMALLOC_FRAMES": "0"})
    tracer = MemoryTracer(60, top=3)
    try:
        grown = [bytes(1000) for _ in range(2000)]  # ~2 MB from this line
        with caplog.at_level(logging.INFO, logger="gigcx.memory"):
            tracer.tick()
    finally:
        tracemalloc.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "gigcx.memory"]
    assert lines[0].startswith("memory: rss ") and "traced " in lines[0] and "gc objects" in lines[0]
    assert len(lines) == 4 and "grown = [bytes(1000)" in lines[1].splitlines()[2]
    assert grown
