"""The memory samples of `metrics_sampler.py` as a table: every `--every` seconds (from the first
sample after the warm-up), resident memory, the brk heap, the C allocator's bytes in use and free,
Python's allocated blocks, SQLite's memory and the mapped model files.

    python summarize.py metrics-new1.jsonl [--every 120] [--start 60]
"""
import argparse
import json

IN_USE, FREE = 'gigcx_malloc_bytes{state="in_use"}', 'gigcx_malloc_bytes{state="free"}'
MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--every", type=float, default=120)
    parser.add_argument("--start", type=float, default=60, help="seconds after the first sample")
    args = parser.parse_args()
    rows = [json.loads(line) for line in open(args.path)]
    t0, due = rows[0]["t"], args.start
    print("| s | RSS MiB | brk heap MiB | malloc in use MiB | malloc free MiB | Python blocks | SQLite MiB | model files MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        at = row["t"] - t0
        if at + 1 < due:
            continue
        due = at + args.every
        m, s = row["metrics"], row["smaps_kib"]
        print(f"| {at:.0f} | {m['process_resident_memory_bytes'] / MIB:.1f} | {s.get('[heap]', 0) / 1024:.1f} | "
              f"{m[IN_USE] / MIB:.1f} | {m[FREE] / MIB:.1f} | {m['gigcx_python_allocated_blocks']:,.0f} | "
              f"{m['gigcx_sqlite_memory_bytes'] / MIB:.2f} | {s.get('model-file', 0) / 1024:.1f} |")


if __name__ == "__main__":
    main()
