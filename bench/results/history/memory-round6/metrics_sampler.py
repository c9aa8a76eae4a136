"""Every 20 s, the running `gigcx serve`'s memory by owner, one JSON line each: its resident
memory by kind of mapping (from /proc/PID/smaps: the brk heap, anonymous maps, mapped model
files, shared objects) and its memory gauges from /metrics (the C allocator's bytes in use and
free, Python's allocated blocks, SQLite's memory). Beside a `bench/load.py --soak` run:

    python metrics_sampler.py OUT.jsonl
"""
import json
import subprocess
import sys
import time

import requests

ADMIN = "bench-operator-token"  # bench/loadgen/common.py
GAUGES = ("gigcx_malloc_bytes", "gigcx_python_allocated_blocks", "gigcx_sqlite_memory_bytes",
          "gigcx_sqlite_memory_highwater_bytes", "process_resident_memory_bytes")


def smaps(pid: str) -> dict[str, int]:
    agg: dict[str, int] = {}
    key = None
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if "-" in parts[0] and not parts[0].endswith(":"):
            name = parts[5] if len(parts) > 5 else "[anon]"
            start, end = (int(x, 16) for x in parts[0].split("-"))
            if name == "[anon]":
                key = "anon>=8M" if end - start >= 8 << 20 else ("anon>=1M" if end - start >= 1 << 20 else "anon<1M")
            elif name.startswith("["):
                key = name
            else:
                key = "model-file" if line.rstrip().endswith("(deleted)") else "so/file"
        elif parts[0] == "Rss:" and key:
            agg[key] = agg.get(key, 0) + int(parts[1])
    return agg


def gauges(port: str) -> dict[str, float]:
    out = {}
    text = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {ADMIN}"},
                        timeout=10).text
    for line in text.splitlines():
        if line.startswith(GAUGES):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def main() -> None:
    out = open(sys.argv[1], "a")
    while True:
        found = subprocess.run(["pgrep", "-af", "gigcx serve"], capture_output=True, text=True).stdout.split("\n")
        for row in found:
            if "--port" not in row:
                continue
            pid, port = row.split()[0], row.split("--port")[1].split()[0]
            try:
                out.write(json.dumps({"t": time.time(), "pid": pid, "smaps_kib": smaps(pid),
                                      "metrics": gauges(port)}) + "\n")
                out.flush()
            except (OSError, requests.RequestException, ValueError):
                pass
            break
        time.sleep(20)


if __name__ == "__main__":
    main()
