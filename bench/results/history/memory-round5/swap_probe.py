"""What one model swap allocates in the serving process: a suggestion index and an expert ranker
fitted by a child from a soak's database, as a background rebuild does, traced by `tracemalloc`.

    python swap_probe.py sqlite:////tmp/gigcx-load-.../gigcx.sqlite3 [brand id]

Run from the checkout to measure (its `gigcx` and `matching` are imported). Prints, per model, the
Python heap it holds after loading (MiB, blocks), the size of its in-band pickle and of its
out-of-band buffers (the mapped arrays), median of 3 loads."""
import os
import pickle
import statistics
import sys
import tracemalloc

sys.path.insert(0, os.getcwd())

from gigcx.fitworker import Source, load_and_fit_in_child  # noqa: E402

url, key = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
models = {
    "suggestion index": ("matching.suggestions:SuggestionIndex", "gigcx.services.routing:_answered_version",
                         "gigcx.services.routing:answered_cases"),
    "expert ranker": ("matching:ExpertRanker", "gigcx.services.ranking:_history_version",
                      "gigcx.services.ranking:history"),
}
for name, (target, version, load) in models.items():
    held, blocks = [], []
    for _ in range(3):
        tracemalloc.start()
        fitted = load_and_fit_in_child(target, Source(url, version, load, key))
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = snapshot.statistics("filename")
        held.append(sum(s.size for s in stats) / 2**20)
        blocks.append(sum(s.count for s in stats))
    buffers: list[pickle.PickleBuffer] = []
    in_band = pickle.dumps(fitted.model, protocol=5, buffer_callback=buffers.append)
    print(f"{name} ({fitted.size} items): holds {statistics.median(held):.2f} MiB of Python heap in "
          f"{int(statistics.median(blocks))} blocks; in-band pickle {len(in_band) / 2**20:.2f} MiB, "
          f"{len(buffers)} buffers of {sum(b.raw().nbytes for b in buffers) / 2**20:.2f} MiB (mapped)")
