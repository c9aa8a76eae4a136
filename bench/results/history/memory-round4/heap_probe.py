"""What a suggestion index handed back by a fit child adds to this process's malloc heap.

    python bench/results/history/memory-round4/heap_probe.py

Fits a 5,000-answer index (questions from the shipped BANKING77 subset) in a child six times,
keeping the newest, and prints glibc's `mallinfo2()` (main arena size, bytes in use, bytes in
mmapped chunks, MiB) before the load, with both models, and after the old one is dropped, and
the RSS. Between swaps it allocates 20,000 small objects it keeps, as a serving process's other
work would. Linux (glibc) only."""
import csv
import ctypes
import gc
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from gigcx.fitworker import fit_in_child  # noqa: E402
from matching.suggestions import AnsweredCase  # noqa: E402


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]


libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2


def heap() -> list[float]:
    m = libc.mallinfo2()
    return [round(m.arena / 2**20, 1), round(m.uordblks / 2**20, 1), round(m.hblkhd / 2**20, 1)]


def rss() -> float:
    return round(int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20, 1)


rows = list(csv.reader(open(ROOT / "gigcx" / "data" / "banking77" / "demo.csv")))[1:]
random.seed(1)
questions = [r[0] for r in rows]
cases = [AnsweredCase(i, random.choice(questions) + (f" order {i}" if i % 3 == 0 else ""),
                      f"answer text {i % 13} " * 20) for i in range(5000)]
model, keep = None, []
print("swap: [arena, in use, mmapped] before / with both / after the swap; RSS the same three")
for i in range(6):
    gc.collect()
    before = heap(), rss()
    new = fit_in_child("matching.suggestions:SuggestionIndex", cases)
    new.suggest("my card has not arrived")
    new.suggest("exchange rate for a top up")
    both = heap(), rss()
    model, new = new, None
    gc.collect()
    after = heap(), rss()
    keep.append([bytes(100 + (j % 400)) for j in range(20000)])
    print(i, before[0], both[0], after[0], "RSS", before[1], both[1], after[1])
