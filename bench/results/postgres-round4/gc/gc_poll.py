"""Poll every local `gigcx serve` process's /metrics four times a second for SECONDS and print, with
the time, each young-generation (1) or full (2) collection, any generation-0 batch over 30 ms, and
each periodic freeze: `python gc_poll.py SECONDS` beside a `bench/load.py` run (its admin token)."""
import sys
import time

import psutil
import requests

HEADERS = {"Authorization": "Bearer bench-operator-token"}
WATCHED = ("gigcx_gc_pause_seconds_count", "gigcx_gc_pause_seconds_sum", "gigcx_gc_freezes_total")


def servers() -> dict[int, str]:
    out = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "gigcx" in cmd and "serve" in cmd and "--port" in cmd:
            out[proc.info["pid"]] = cmd[cmd.index("--port") + 1]
    return out


def read(port: str) -> dict[str, float] | None:
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", headers=HEADERS, timeout=2).text
    except requests.RequestException:
        return None  # starting or stopping
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith(WATCHED))}


def main(seconds: float) -> None:
    state: dict[int, dict[str, float]] = {}
    end = time.time() + seconds
    while time.time() < end:
        for pid, port in servers().items():
            cur = read(port)
            if cur is None:
                continue
            prev = state.get(pid)
            now = f"{time.strftime('%H:%M:%S')}.{int(time.time() * 10) % 10}"
            if prev is not None:
                for gen in ("0", "1", "2"):
                    count = f'gigcx_gc_pause_seconds_count{{generation="{gen}"}}'
                    total = f'gigcx_gc_pause_seconds_sum{{generation="{gen}"}}'
                    n, ms = cur.get(count, 0) - prev.get(count, 0), 1000 * (cur.get(total, 0) - prev.get(total, 0))
                    if n and (gen != "0" or ms > 30):
                        print(f"{now} pid {pid} gen{gen} +{int(n)} {ms:.1f} ms", flush=True)
                for k in cur:
                    if k.startswith("gigcx_gc_freezes_total") and cur[k] != prev.get(k):
                        print(f"{now} pid {pid} {k} {cur[k]}", flush=True)
            state[pid] = cur
        time.sleep(0.25)


if __name__ == "__main__":
    main(float(sys.argv[1]))
