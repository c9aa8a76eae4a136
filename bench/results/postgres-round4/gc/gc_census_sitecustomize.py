"""A census of what the collector walks in a serving process: saved as `sitecustomize.py` in a
folder on PYTHONPATH with GC_CENSUS=FILE set, a `gigcx serve` process appends to FILE, at each of
its first 12 generation-1 collections once serving (threshold 7,000), the count and types of
young objects, then the collection's time and what it and the generation-0 ones before it freed."""
import os
import sys

if "serve" in sys.argv and os.environ.get("GC_CENSUS"):
    import collections
    import gc
    import time

    _seen = [0]
    _started = [0.0]
    _young: collections.Counter[str] = collections.Counter()

    def _census(phase: str, info: dict[str, int]) -> None:
        if gc.get_threshold()[0] < 7000:  # still starting: not the serving settings yet
            return
        gen = info["generation"]
        if phase == "start":
            if gen == 1 and _seen[0] < 12:
                _seen[0] += 1
                objs = gc.get_objects(0) + gc.get_objects(1)
                types = collections.Counter(type(o).__name__ for o in objs)
                with open(os.environ["GC_CENSUS"], "a") as f:
                    f.write(f"{time.strftime('%H:%M:%S')} gen1 start: young {len(objs)} types {types.most_common(12)}\n")
            _started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - _started[0]) * 1000
        if gen == 0:
            _young.update(n=1, collected=info["collected"])
            _young["us"] += int(ms * 1000)
            return
        with open(os.environ["GC_CENSUS"], "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} gen{gen} done {ms:.1f} ms collected {info['collected']}; "
                    f"gen0 since last: {dict(_young)}\n")
        _young.clear()

    gc.callbacks.append(_census)
