"""Load benchmark: the client processes of one server, driven phase by phase; ramp and soak."""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from bench.loadgen.common import ADMIN, Sampler, _ms, pct, summary
from bench.loadgen.worker import worker_entry


# ---------------------------------------------------------------- driver
class Fleet:
    """The client processes of one server, driven phase by phase."""

    def __init__(self, mode: str, url: str, workers: int, server_pid: int | list[int], brand: str = "",
                 tokens: list[str] | None = None, customers: int = 0, pairs: int = 0, resolve_after: int = 0,
                 urls: dict[str, str] | None = None, services: dict[str, tuple[str, ...]] | None = None):
        """`server_pid`: the server process, or each of several; `urls`: a namespace's own URL
        (customers on one process, experts on another); `services`: process names whose CPU is
        sampled too, e.g. {"postgres": ("postgres",), "redis": ("redis-server",)}."""
        ctx = mp.get_context("spawn")
        self.mode, self.workers = mode, workers
        self.ready = ctx.Queue()
        self.gos = []
        self.procs = []
        for w in range(workers):
            cfg = {"mode": mode, "url": url, "brand": brand, "expert_tokens": (tokens or [])[w::workers],
                   "customers": customers // workers + (1 if w < customers % workers else 0),
                   "pairs": list(range(pairs))[w::workers], "resolve_after": resolve_after, "urls": urls or {}}
            go = ctx.Queue()
            self.gos.append(go)
            p = ctx.Process(target=worker_entry, args=(cfg, self.ready, go), daemon=True)
            p.start()
            self.procs.append(p)
        t = time.time()
        self.collect("ready", timeout=900)
        self.setup_s = time.time() - t
        pids = server_pid if isinstance(server_pid, list) else [server_pid]
        self.server_samplers = [Sampler(pid) for pid in pids]
        self.sampler = self.server_samplers[0]
        self.service_samplers = {name: Sampler(names=names) for name, names in (services or {}).items()}
        self.client_samplers = [Sampler(p.pid) for p in self.procs if p.pid]
        self.records: dict[str, list[Any]] = {k: [] for k in ("errors", "ask_offer", "ask_ack", "msg_lat",
                                                                "ack_lat", "sent")}
        self.conversations = self.resolved = self.closed_races = 0
        self.phases: dict[str, dict[str, Any]] = {}

    def collect(self, kind: str, timeout: float) -> list[Any]:
        out = []
        for _ in range(self.workers):
            state, info = self.ready.get(timeout=timeout)
            if state == "failed":
                raise RuntimeError(f"worker failed: {info}")
            assert state == kind, (state, kind)
            out.append(info)
        return out

    def absorb(self, increments: list[dict[str, Any]]) -> None:
        for inc in increments:
            for k in self.records:
                self.records[k].extend(inc[k])
        self.conversations = sum(inc["conversations"] for inc in increments)
        self.resolved = sum(inc.get("resolved", 0) for inc in increments)
        self.closed_races = sum(inc.get("closed_races", 0) for inc in increments)

    def run_phase(self, name: str, ask_rate: float, msg_rate: float, duration: float, drain: float = 60) -> dict[str, Any]:
        start = time.time() + 0.5
        for go in self.gos:
            go.put(("phase", ask_rate / self.workers, msg_rate / self.workers, start, duration, drain))
        self.absorb(self.collect("phase", timeout=duration + drain + 120))
        end = start + duration
        self.phases[name] = stats = self.window(start, end)
        stats.update(offered_msg_per_s=msg_rate, ask_per_s=ask_rate, duration_s=duration, started_at=round(start, 3),
                     server=self.sampler.window(start, end),
                     clients_cpu_pct=round(sum(s.window(start, end).get("cpu_avg_pct", 0.0)
                                               for s in self.client_samplers), 1))
        if len(self.server_samplers) > 1:
            stats["servers"] = [s.window(start, end) for s in self.server_samplers]
        for name, sampler in self.service_samplers.items():
            stats[name] = sampler.window(start, end)
        return stats

    def window(self, start: float, end: float) -> dict[str, Any]:
        def within(rows: list[Any]) -> list[float]:
            return [lat for sent, lat in rows if start <= sent < end]

        lats = within(self.records["msg_lat"])
        sent = len([t for t in self.records["sent"] if start <= t < end])
        errors: dict[str, int] = {}
        for t, what in self.records["errors"]:
            if start <= t < end + 60:
                errors[what] = errors.get(what, 0) + 1
        timeline = []  # message p99 and ask->offer p99 per 5 s of sending: does it drift or collapse?
        if end - start >= 20:
            for t0 in range(int(start), int(end), 5):
                m = [lat for sent_at, lat in self.records["msg_lat"] if t0 <= sent_at < t0 + 5]
                a = [lat for sent_at, lat in self.records["ask_offer"] if t0 <= sent_at < t0 + 5]
                timeline.append((round(t0 - start), _ms(pct(m, 99)), _ms(pct(a, 99))))
        return {"timeline": timeline, "sent": sent, "delivered": len(lats),
                "delivered_per_s": round(len(lats) / (end - start), 1),
                "message": summary(lats), "message_ack": summary(within(self.records["ack_lat"])),
                "ask_offer": summary(within(self.records["ask_offer"])),
                "ask_ack": summary(within(self.records["ask_ack"])), "errors": errors}

    def stop(self) -> dict[str, Any]:
        for go in self.gos:
            go.put(("stop",))
        finals = self.collect("final", timeout=900)
        self.absorb(finals)
        for p in self.procs:
            p.join(30)
        for s in self.client_samplers + self.server_samplers + list(self.service_samplers.values()):
            s.stop.set()
        acked = [a for f in finals for a in f["acked"]]
        received = {(c, m, role) for f in finals for c, m, role in f["received"]}
        other = {"customer": "expert", "expert": "customer", "a": "b", "b": "a"}
        lost_live = [a for a in acked if (a[0], a[1], other[a[2]]) not in received]
        synced: dict[int, set[int]] = {}
        for f in finals:
            for case_id, ids in f["synced"].items():
                synced.setdefault(int(case_id), set()).update(ids)
        checked = [a for a in acked if self.mode == "gigcx" and a[0] in synced]
        lost_stored = [a for a in checked if a[1] not in synced[a[0]]]
        errors: dict[str, int] = {}
        for _, what in self.records["errors"]:
            errors[what] = errors.get(what, 0) + 1
        return {"mode": self.mode, "setup_s": round(self.setup_s, 1), "errors": errors,
                "resolved": self.resolved, "closed_races": self.closed_races,
                "conversations": self.conversations, "acked_messages": len(acked), "lost_live": len(lost_live),
                "checked_by_sync": len(checked), "lost_stored": len(lost_stored), "phases": self.phases}


def gc_pauses(base: str) -> dict[str, Any]:
    """The server's garbage-collector pauses over the whole run, from its /metrics histogram:
    per generation the count, total ms and how many took over 10 and 50 ms."""
    out: dict[str, Any] = {}
    for line in requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30).text.splitlines():
        if not line.startswith("gigcx_gc_pause_seconds"):
            continue
        name, value = line.rsplit(" ", 1)
        gen = name.split('generation="')[1].split('"')[0]
        row = out.setdefault(gen, {})
        if name.startswith("gigcx_gc_pause_seconds_count"):
            row["count"] = int(float(value))
        elif name.startswith("gigcx_gc_pause_seconds_sum"):
            row["total_ms"] = round(float(value) * 1000, 1)
        elif 'le="0.01"' in name:
            row["le_10ms"] = int(float(value))
        elif 'le="0.05"' in name:
            row["le_50ms"] = int(float(value))
    for row in out.values():
        row["over_10ms"] = row.get("count", 0) - row.pop("le_10ms", 0)
        row["over_50ms"] = row.get("count", 0) - row.pop("le_50ms", 0)
    return out


def commit_groups(base: str) -> dict[str, Any]:
    """Group commit over the whole run (SQLite), from the server's /metrics histogram: the
    transactions that stored chat messages, the messages in them, and the mean group size."""
    count = total = 0.0
    for line in requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30).text.splitlines():
        if line.startswith("gigcx_commit_group_size_count"):
            count = float(line.rsplit(" ", 1)[1])
        elif line.startswith("gigcx_commit_group_size_sum"):
            total = float(line.rsplit(" ", 1)[1])
    return {"transactions": int(count), "messages": int(total),
            "mean_size": round(total / count, 2) if count else None}


def sustained(stats: dict[str, Any], p99_ms: float) -> bool:
    return (stats["sent"] > 0 and stats["delivered"] >= 0.99 * stats["sent"]
            and (stats["message"]["p99_ms"] or 1e9) <= p99_ms and not stats["errors"])


def ramp(fleet: Fleet, rates: list[int], step_s: float, p99_ms: float, *,
         until_failure: bool = True, max_extra: int = 12, factor: float = 1.25) -> tuple[float, float | None]:
    """Message-only steps of increasing rate until one is not sustained: (best sustained rate,
    server CPU milliseconds per delivered message at that step). With `until_failure`, steps
    beyond `rates` (each `factor` x the last, rounded to 50) are added while they are sustained, so
    a ceiling is never reported merely because the listed steps ran out; a smaller factor finds
    the ceiling to within a smaller step."""
    best, cpu_ms = 0.0, None
    steps, extra = list(rates), 0
    i = 0
    while i < len(steps):
        rate = steps[i]
        for attempt in (1, 2):  # a shared machine: one noisy step gets a second chance
            name = f"ramp{rate}" if attempt == 1 else f"ramp{rate}-again"
            stats = fleet.run_phase(name, 0.0, float(rate), step_s, drain=20)
            ok = sustained(stats, p99_ms)
            stats["sustained"] = ok
            if ok:
                break
        print(f"  {fleet.mode:5s} ramp {rate:5d}/s: delivered {stats['delivered_per_s']:7.1f}/s "
              f"p50 {stats['message']['p50_ms']} p99 {stats['message']['p99_ms']} ms "
              f"server cpu {stats['server'].get('cpu_avg_pct')}% {'ok' if ok else 'NOT sustained'}", flush=True)
        if not ok:
            break
        if stats["delivered_per_s"] >= best:
            best = stats["delivered_per_s"]
            cpu = stats["server"].get("cpu_avg_pct")
            cpu_ms = round(10 * cpu / best, 3) if cpu and best else None  # % of a core -> ms per message
        i += 1
        if i == len(steps) and until_failure and extra < max_extra:
            steps.append(max(int(round(rate * factor / 50) * 50), rate + 50))
            extra += 1
    return best, cpu_ms


def paired_ramp(fleets: dict[str, Fleet], rates: list[int], step_s: float, p99_ms: float, *,
                max_extra: int = 12, factor: float = 1.25) -> dict[str, Any]:
    """The ramps of several servers run step by step in turn (all servers up): each rate is tried on
    every server still going within seconds of the others, so a machine that slows down or speeds
    up during the run moves all ceilings alike. Steps beyond `rates` (`factor` x the last) are
    added until every server has failed one. Returns each server's (best sustained rate, server
    CPU ms per message there) and the steps, with each server's CPU at every rate it sustained."""
    best: dict[str, float] = {name: 0.0 for name in fleets}
    cpu_ms: dict[str, float | None] = {name: None for name in fleets}
    going = set(fleets)
    steps, extra, i, table = list(rates), 0, 0, []
    while i < len(steps) and going:
        rate = steps[i]
        row: dict[str, Any] = {"rate": rate}
        for name, fleet in fleets.items():
            if name not in going:
                continue
            for attempt in (1, 2):  # a shared machine: one noisy step gets a second chance
                stats = fleet.run_phase(f"ramp{rate}" if attempt == 1 else f"ramp{rate}-again", 0.0, float(rate),
                                        step_s, drain=20)
                ok = stats["sustained"] = sustained(stats, p99_ms)
                if ok:
                    break
            cpu = stats["server"].get("cpu_avg_pct")
            row[name] = {"sustained": ok, "delivered_per_s": stats["delivered_per_s"], "cpu_avg_pct": cpu,
                         "p99_ms": stats["message"]["p99_ms"]}
            print(f"  {name:5s} ramp {rate:5d}/s: delivered {stats['delivered_per_s']:7.1f}/s "
                  f"p50 {stats['message']['p50_ms']} p99 {stats['message']['p99_ms']} ms "
                  f"server cpu {cpu}% {'ok' if ok else 'NOT sustained'}", flush=True)
            if not ok:
                going.discard(name)
            elif stats["delivered_per_s"] >= best[name]:
                best[name] = stats["delivered_per_s"]
                cpu_ms[name] = round(10 * cpu / best[name], 3) if cpu and best[name] else None
        table.append(row)
        i += 1
        if i == len(steps) and going and extra < max_extra:
            steps.append(max(int(round(rate * factor / 50) * 50), rate + 50))
            extra += 1
    return {"best": best, "cpu_ms": cpu_ms, "steps": table, "never_failed": sorted(going)}


def soak(fleet: Fleet, args: argparse.Namespace, profile: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """The target mix for `--soak` minutes, reported minute by minute: does latency or memory drift?
    Conversations end (expert proposes after `--resolve-after` messages, customer confirms), so
    experts' capacity is recycled and the ledger is credited as in real use. `profile(minute)`,
    if given, is called as each minute starts (a profiler over that minute: what drifted, and where)."""
    windows = []
    for minute in range(1, int(args.soak) + 1):
        if profile is not None:
            profile(minute)
        stats = fleet.run_phase(f"soak{minute}", args.ask_rate, args.msg_rate, 60.0, drain=10)
        row = {"minute": minute, "ask_offer_p99_ms": stats["ask_offer"]["p99_ms"],
               "message_p50_ms": stats["message"]["p50_ms"], "message_p99_ms": stats["message"]["p99_ms"],
               "sent": stats["sent"], "delivered": stats["delivered"], "errors": stats["errors"],
               "cpu_avg_pct": stats["server"].get("cpu_avg_pct"), "rss_max_mib": stats["server"].get("rss_max_mib"),
               "open_conversation_ends": fleet.conversations, "resolved": fleet.resolved}
        windows.append(row)
        print(f"  soak minute {minute:3d}: ask->offer p99 {row['ask_offer_p99_ms']} ms, message p50/p99 "
              f"{row['message_p50_ms']}/{row['message_p99_ms']} ms, cpu {row['cpu_avg_pct']}%, rss "
              f"{row['rss_max_mib']} MiB, resolved {row['resolved']}, errors {row['errors']}", flush=True)
    rss = [w["rss_max_mib"] for w in windows if w["rss_max_mib"]]
    return {"windows": windows, "rss_first_mib": rss[0] if rss else None, "rss_last_mib": rss[-1] if rss else None,
            "message_p99_ms_median": statistics.median([w["message_p99_ms"] for w in windows
                                                        if w["message_p99_ms"] is not None] or [0])}
