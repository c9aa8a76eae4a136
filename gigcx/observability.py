"""Operations: Prometheus metrics at /metrics, a health check at /healthz, structured logs."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, text
from sqlmodel import select

from gigcx.auth import public

REGISTRY = CollectorRegistry(auto_describe=True)
SOCKETS = Gauge("gigcx_connected_sockets", "Open Socket.IO connections in this process", ["namespace"],
                registry=REGISTRY)
EVENTS = Histogram("gigcx_event_seconds", "Time to handle a client event, until its ack",
                   ["namespace", "event", "outcome"], registry=REGISTRY,
                   buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
ROUTING = Histogram("gigcx_routing_seconds", "Time to choose experts and send the offers of one case",
                    registry=REGISTRY, buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
DELIVERY = Histogram("gigcx_message_delivery_seconds",
                     "From the start of the transaction that stores a message to its delivery being "
                     "emitted to the conversation's rooms (store, commit, emit; via Redis when scaled out)",
                     registry=REGISTRY, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
OFFERS = Counter("gigcx_offers_total", "Offers by outcome", ["outcome"], registry=REGISTRY)
LOOP_LAG = Histogram("gigcx_event_loop_lag_seconds", "How late this process wakes a 50 ms timer: the time any "
                     "event now waits to run (gigcx serve)", registry=REGISTRY,
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
SHED = Counter("gigcx_shed_events_total", "Asks and messages refused with `overloaded` while the event loop "
               "lagged", ["event"], registry=REGISTRY)
WAL_CHECKPOINTS = Histogram("gigcx_sqlite_checkpoint_seconds", "Background checkpoints of SQLite's write-ahead "
                            "log (off the event loop; SQLite only)", registry=REGISTRY,
                            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
COMMIT_GROUPS = Histogram("gigcx_commit_group_size", "Chat messages per transaction of group commit (SQLite "
                          "serving process): one per transaction, of the messages one turn of the event loop "
                          "handled", registry=REGISTRY, buckets=(1, 2, 4, 8, 16, 32, 64))
GC_PAUSES = Histogram("gigcx_gc_pause_seconds", "Garbage-collector pauses of this process (they stop every "
                      "connection of a gevent server)", ["generation"], registry=REGISTRY,
                      buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
GC_FREEZES = Counter("gigcx_gc_freezes_total", "Periodic gc.freeze() (`freeze`) and unfreeze + full collection "
                     "+ freeze (`reclaim`) of a serving process (GIGCX_GC_FREEZE_S)", ["kind"], registry=REGISTRY)
GC_FROZEN = Gauge("gigcx_gc_frozen_objects", "Objects in the collector's permanent generation (gc.get_freeze_count)",
                  registry=REGISTRY)

bp = Blueprint("ops", __name__)


class CasesByStatus:
    """Counts cases by status from the database at scrape time (shared by all processes)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from gigcx.db import engine
        from gigcx.models import Case

        family = GaugeMetricFamily("gigcx_cases", "Cases by status (all brands)", labels=["status"])
        try:
            with engine().connect() as conn:
                rows = conn.execute(select(Case.status, func.count()).group_by(Case.status)).all()
        except Exception:  # noqa: BLE001 - the database is down: /healthz says so, the scrape still works
            rows = []
        for status, count in rows:
            family.add_metric([status], count)
        yield family


@bp.get("/metrics")
@public  # checks the operator's or the metrics token itself
def prometheus() -> Response | tuple[Response, int]:
    """Prometheus text exposition, for a bearer of the operator's or the metrics token
    (`GIGCX_METRICS_TOKEN`); `GIGCX_METRICS_ADDRESS` serves it without a token on an address of
    its own (`metrics_app`), for scrapers on a private network."""
    import hmac

    from flask import request

    settings = current_app.config["GIGCX"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    allowed = [t for t in (settings.admin_token, settings.metrics_token) if t]
    if scheme.lower() != "bearer" or not any(
            hmac.compare_digest(token.strip().encode(), t.encode()) for t in allowed):
        return jsonify({"error": {"code": "unauthorized",
                                  "message": "metrics need the operator's or the metrics bearer token"}}), 401
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def metrics_app(app: Flask) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """A WSGI app answering only `GET /metrics`, without a token: bind it to a private address."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        with app.app_context():
            body = generate_latest(REGISTRY)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    return serve


@bp.get("/healthz")
@public
def health() -> tuple[Response, int]:
    """200 when the database (and Redis, when configured) answer; 503 otherwise, and while the
    process is stopping (`"status": "draining"`: a load balancer sends nothing new to it)."""
    from gigcx.db import engine
    from gigcx.drain import DRAIN

    if DRAIN.draining:
        return jsonify({"status": "draining"}), 503
    checks: dict[str, str] = {}
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is reported, whatever its type
        checks["database"] = f"error: {type(exc).__name__}"
    url = current_app.config["GIGCX"].redis_url
    if url:
        try:
            import redis

            redis.Redis.from_url(url, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure is reported, whatever its type
            checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "degraded", **checks}), 200 if ok else 503


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with extras such as case_id and expert_id."""

    RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname,
                               "logger": record.name, "msg": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class MemoryByOwner:
    """Where a process's memory is, read at scrape time: what C code holds through malloc (in use,
    and free but kept by the allocator), Python's allocated blocks, and what SQLite holds (its page
    caches and statements, for every connection of the process). Beside `process_resident_memory_bytes`
    this tells a leak of Python objects from the allocator's fragmentation or a cache filling
    (docs/benchmarks.md, "Memory at model swaps"). A reading this platform cannot make is left out."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        self._mallinfo = self._sqlite_used = self._sqlite_high = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            fields = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                "keepcost")]
            mallinfo2 = libc.mallinfo2  # glibc 2.33 and later
            mallinfo2.restype = type("mallinfo2", (ctypes.Structure,), {"_fields_": fields})
            self._mallinfo = mallinfo2
        except (OSError, AttributeError):
            pass
        try:
            import _sqlite3

            sqlite = ctypes.CDLL(_sqlite3.__file__)  # the library the sqlite3 module is linked with
            used, high = sqlite.sqlite3_memory_used, sqlite.sqlite3_memory_highwater
            used.restype = high.restype = ctypes.c_int64
            high.argtypes = [ctypes.c_int]
            self._sqlite_used, self._sqlite_high = used, high
        except (ImportError, OSError, AttributeError):
            pass

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import sys

        yield GaugeMetricFamily("gigcx_python_allocated_blocks", "Memory blocks Python has allocated and not "
                                "freed (sys.getallocatedblocks)", value=sys.getallocatedblocks())
        if self._mallinfo is not None:
            info = self._mallinfo()
            family = GaugeMetricFamily("gigcx_malloc_bytes", "The C allocator's memory (glibc mallinfo2): `in_use` "
                                       "by C code and by Python's objects over 512 bytes, `free` kept in its heap",
                                       labels=["state"])
            family.add_metric(["in_use"], info.uordblks + info.hblkhd)
            family.add_metric(["free"], info.fordblks)
            yield family
        if self._sqlite_used is not None and self._sqlite_high is not None:
            yield GaugeMetricFamily("gigcx_sqlite_memory_bytes", "Memory SQLite holds in this process (page caches, "
                                    "statements; all connections)", value=self._sqlite_used())
            yield GaugeMetricFamily("gigcx_sqlite_memory_highwater_bytes", "The most SQLite has held at once in this "
                                    "process", value=self._sqlite_high(0))


def init_app(app: Flask) -> None:
    """Register the endpoints and the scrape-time collectors (once per process)."""
    app.register_blueprint(bp)
    if not getattr(REGISTRY, "_gigcx_cases", False):
        REGISTRY.register(CasesByStatus())
        REGISTRY.register(MemoryByOwner())
        ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
        REGISTRY._gigcx_cases = True  # type: ignore[attr-defined]
    if app.config["GIGCX"].log_format == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


_gc_started: list[float] = []
GC_THRESHOLDS = (7000, 10, 10)


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        GC_PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - _gc_started.pop())


def tune_gc_for_serving(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """For a long-running server: time every collection (`gigcx_gc_pause_seconds`) and move what
    start-up built (modules, models, the app) out of the collector's way with `gc.freeze()`, so
    full collections only walk objects made while serving. Frozen objects are alive for the
    process's life anyway; nothing collectable is frozen because `gc.collect()` runs first."""
    import gc

    gc.collect()
    gc.freeze()
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    # Young collections 10x rarer than the default 700 allocations: each one promotes whatever
    # in-flight events hold at that instant, and promotions are what trigger full collections.
    gc.set_threshold(*thresholds)  # GIGCX_GC_THRESHOLDS


class GcFreezer:
    """Keeps long-lived serving objects out of full collections (GIGCX_GC_FREEZE_S,
    GIGCX_GC_RECLAIM_S; architecture.md, "Tuned for many connections").

    A full collection walks every tracked object: while serving that is mostly the ~150 objects
    each open connection holds for its whole life (gevent, h11/wsproto, engine.io), and the walk
    stopped every connection for 120-180 ms. Every `freeze_s` this collects the young
    generations (cheap: only what was made since) and freezes what survived, so full collections
    only walk what is younger than `freeze_s`. Garbage frozen meanwhile (a closed connection's
    cycles, say) is not collected until the next reclaim: every `reclaim_s` everything is
    unfrozen, fully collected once and frozen again, so memory frozen as garbage is bounded by
    what one `reclaim_s` of traffic leaves."""

    def __init__(self, freeze_s: float, reclaim_s: float, clock: Callable[[], float] = time.monotonic):
        self.freeze_s, self.reclaim_s, self.clock = freeze_s, reclaim_s, clock
        now = clock()
        self.last_freeze = self.last_reclaim = now

    def tick(self) -> str | None:
        """Do what is due now: "reclaim", "freeze" or nothing (None)."""
        import gc

        now = self.clock()
        if self.reclaim_s and now - self.last_reclaim >= self.reclaim_s:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.last_reclaim = self.last_freeze = now
            GC_FREEZES.labels("reclaim").inc()
            done = "reclaim"
        elif now - self.last_freeze >= self.freeze_s:
            gc.collect(1)
            gc.freeze()
            self.last_freeze = now
            GC_FREEZES.labels("freeze").inc()
            done = "freeze"
        else:
            return None
        GC_FROZEN.set(gc.get_freeze_count())
        return done

    def run(self, sleep: Callable[[float], Any]) -> None:
        """Forever, in a background greenlet of a serving process."""
        step = min(self.freeze_s, self.reclaim_s or self.freeze_s) / 4
        while True:
            sleep(step)
            try:
                self.tick()
            except Exception:  # pragma: no cover - gc calls do not fail; never kill the loop
                logging.getLogger(__name__).exception("gc freezer tick failed")

    @classmethod
    def from_settings(cls, settings: Any) -> GcFreezer | None:
        """None when GIGCX_GC_FREEZE_S is 0 (off); `Settings` has checked both values."""
        if not settings.gc_freeze_s:
            return None
        return cls(settings.gc_freeze_s, settings.gc_reclaim_s)


class MemoryTracer:
    """GIGCX_TRACEMALLOC_S: what grows in a serving process, for finding leaks. Every `every_s` it
    logs (logger `gigcx.memory`) the RSS, the Python heap `tracemalloc` traces, the objects the
    collector tracks (and how many are frozen), and the `top` allocation sites (tracebacks of
    `frames` frames) that grew most since the last log: RSS growing while the traced heap stays
    flat is the allocator's, not the program's."""

    def __init__(self, every_s: float, top: int = 10, frames: int = 8):
        import tracemalloc

        self.every_s, self.top = every_s, top
        tracemalloc.start(frames)
        self.last = tracemalloc.take_snapshot()

    def tick(self) -> None:
        import gc
        import tracemalloc

        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        current, peak = tracemalloc.get_traced_memory()
        log = logging.getLogger("gigcx.memory")
        log.info("memory: rss %.1f MiB, traced %.1f MiB (peak %.1f), tracemalloc's own %.1f MiB, gc objects %d "
                 "(%d frozen)", _rss_mib(), current / 2**20, peak / 2**20,
                 tracemalloc.get_tracemalloc_memory() / 2**20, len(gc.get_objects()), gc.get_freeze_count())
        for stat in snapshot.compare_to(self.last, "traceback")[:self.top]:
            log.info("memory: %+.1f KiB in %+d blocks (now %.1f KiB) at\n  %s", stat.size_diff / 1024,
                     stat.count_diff, stat.size / 1024, "\n  ".join(stat.traceback.format(most_recent_first=True)))
        self.last = snapshot
        tracemalloc.reset_peak()

    def run(self, sleep: Callable[[float], Any]) -> None:
        """Forever, in a background greenlet of a serving process."""
        while True:
            sleep(self.every_s)
            try:
                self.tick()
            except Exception:  # pragma: no cover - a diagnostic never kills the process
                logging.getLogger(__name__).exception("memory trace failed")


def _rss_mib() -> float:
    """This process's resident memory (Linux; NaN elsewhere)."""
    import os

    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


class timed:
    """Observe a histogram around a block: `with timed(ROUTING): ...`."""

    def __init__(self, histogram: Any):
        self.histogram = histogram

    def __enter__(self) -> timed:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.histogram.observe(time.perf_counter() - self.start)
