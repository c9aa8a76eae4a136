import sys, pickle, time, gc, os, glob, ctypes
sys.setrecursionlimit(10000)
from gigcx.fitworker import Source, read_source
from matching import ExpertRanker
from matching.suggestions import SuggestionIndex
db = glob.glob("/tmp/gigcx-load-*/gigcx.sqlite3")[0]
url = f"sqlite:///{db}"
trim = os.environ.get("TRIM") == "1"
freeze = True
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
_, hist = read_source(Source(url, "gigcx.services.ranking:_history_version", "gigcx.services.ranking:history", 1))
ranker_blob = pickle.dumps(ExpertRanker().fit(hist), protocol=5)
from sqlmodel import Session
import sqlalchemy as sa
eng = sa.create_engine(url)
from gigcx.services.routing import answered_cases
with Session(eng) as s:
    cases = answered_cases(s, 1)
index_blob = pickle.dumps(SuggestionIndex().fit(cases), protocol=5)
del hist, cases
print("blobs MiB", len(ranker_blob)/2**20, len(index_blob)/2**20, flush=True)
gc.collect(); gc.freeze()
models = {}
qs = ["my card has not arrived", "how do I get a refund for a double charge", "reset my pin please", "loan interest"]
for i in range(12):
    for name, blob in (("ranker", ranker_blob), ("index", index_blob)):
        models[name] = pickle.loads(blob)
        for q in qs:
            models["ranker"].rank(q, [], at=time.time()) if name == "ranker" else models["index"].suggest(q)
        if trim: ctypes.CDLL("libc.so.6").malloc_trim(0)
    gc.collect(1); gc.freeze()  # what serving's freezer does every minute
    print(i, round(rss(), 1), flush=True)
