"""Swap a freshly unpickled ranker and suggestion index 12 times in one process, as background
refits do, and print RSS (MiB) after each round: does replacing models leave memory behind?

    python bench/results/history/memory-round3/reload.py DATABASE_FILE   # TRIM=1: malloc_trim after each load

DATABASE_FILE: a soak's SQLite database (`bench/load.py --soak N --history 20000 --keep`)."""
from __future__ import annotations

import ctypes
import gc
import os
import pickle
import sys
import time

import sqlalchemy as sa
from sqlmodel import Session

from gigcx.fitworker import Source, read_source
from gigcx.services.routing import answered_cases
from matching import ExpertRanker
from matching.suggestions import SuggestionIndex


def rss() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main(path: str) -> None:
    sys.setrecursionlimit(10000)
    url = f"sqlite:///{path}"
    _, history = read_source(Source(url, "gigcx.services.ranking:_history_version", "gigcx.services.ranking:history", 1))
    ranker_blob = pickle.dumps(ExpertRanker().fit(history), protocol=5)
    with Session(sa.create_engine(url)) as session:
        cases = answered_cases(session, 1)
    index_blob = pickle.dumps(SuggestionIndex().fit(cases), protocol=5)
    del history, cases
    print("blobs MiB", len(ranker_blob) / 2**20, len(index_blob) / 2**20, flush=True)
    trim = os.environ.get("TRIM") == "1"
    gc.collect()
    gc.freeze()
    models: dict[str, object] = {}
    questions = ["my card has not arrived", "how do I get a refund for a double charge", "reset my pin please",
                 "loan interest"]
    for i in range(12):
        for name, blob in (("ranker", ranker_blob), ("index", index_blob)):
            models[name] = model = pickle.loads(blob)  # noqa: S301 - pickled above
            for q in questions:
                if isinstance(model, ExpertRanker):
                    model.rank(q, [], at=time.time())
                else:
                    model.suggest(q)
            if trim:
                ctypes.CDLL("libc.so.6").malloc_trim(0)
        gc.collect(1)  # what serving's freezer does every minute
        gc.freeze()
        print(i, round(rss(), 1), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
