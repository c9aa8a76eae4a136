"""Python function calls per message (cProfile over one counted block of `inprocess.py`): a count
that the machine's load does not change, unlike its CPU times.

    cd <checkout> && python <this directory>/calls_per_message.py sqlite|postgres
"""
from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import time
from pathlib import Path

sys.path.insert(0, ".")
N = 1000
profiler = cProfile.Profile()
real_clock, reads = time.process_time, [0]


def clock() -> float:
    """inprocess.py reads the clock at the start and end of each block: profile the first counted one."""
    reads[0] += 1
    if reads[0] == 3:
        profiler.enable()
    elif reads[0] == 4:
        profiler.disable()
    return real_clock()


time.process_time = clock
sys.argv = ["inprocess.py", "--messages", str(N), "--repeats", "1", "--backend", sys.argv[1]]
runpy.run_path(str(Path(__file__).with_name("inprocess.py")), run_name="__main__")
stats = pstats.Stats(profiler)
print("function calls per message", stats.total_calls / N)  # type: ignore[attr-defined]
stats.sort_stats("tottime").print_stats(12)
