"""Latency of one dispatch decision (matching.dispatch) over 10,000 candidates.

    python bench/bench_dispatch.py [--n 10000] [--runs 2000]

Columns are prebuilt (as a presence cache would hold them); each run scores, filters, takes the
top 3 and records reasons for the top 10 with a fresh seed. Also times the ``Candidate``-list
entry point, which pays for building the columns from Python objects.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching.dispatch import Candidate, choose, choose_arrays  # noqa: E402


def main() -> None:
    """Print p50/p99 latencies in microseconds."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.n
    ids = list(range(n))
    cols = (rng.normal(size=n), rng.integers(0, 4, n).astype(float), np.full(n, 3.0),
            np.where(rng.random(n) < 0.2, np.nan, rng.exponential(60, n)),
            rng.integers(0, 30, n).astype(float))
    lang = rng.random(n) < 0.9
    times = []
    for s in range(args.runs):
        t0 = time.perf_counter()
        choose_arrays(ids, *cols, lang_ok=lang, fanout=3, rng=s)
        times.append(time.perf_counter() - t0)
    us = np.array(times[10:]) * 1e6
    print(f"choose_arrays, {n} candidates, fanout 3: p50 {np.percentile(us, 50):.0f} us, "
          f"p99 {np.percentile(us, 99):.0f} us, max {us.max():.0f} us ({len(us)} runs)")
    cands = [Candidate(i, float(cols[0][i]), int(cols[1][i]), 3, ("en",), (),
                       None if np.isnan(cols[3][i]) else float(cols[3][i]), int(cols[4][i]))
             for i in range(n)]
    times = []
    for s in range(max(args.runs // 10, 20)):
        t0 = time.perf_counter()
        choose(cands, fanout=3, rng=s)
        times.append(time.perf_counter() - t0)
    us = np.array(times[2:]) * 1e6
    print(f"choose(list of Candidate), {n} candidates: p50 {np.percentile(us, 50):.0f} us, "
          f"p99 {np.percentile(us, 99):.0f} us")


if __name__ == "__main__":
    main()
