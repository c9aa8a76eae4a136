import csv, random, time, copy
from pathlib import Path
from sklearn.feature_extraction.text import TfidfVectorizer
from matching.suggestions import content_words
from matching.tfidf import transform_one, freeze
rows = list(csv.reader(open("gigcx/data/banking77/demo.csv")))[1:]
qs = [r[0] for r in rows]
random.seed(1)
texts = [random.choice(qs) + f" order {i}" for i in range(5000)]
for mk in (lambda: TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2)),
           lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, preprocessor=content_words)):
    a = mk().fit(texts); b = freeze(mk().fit(texts))
    q = "my card has not arrived yet, where is it? I ordered it two weeks ago"
    for v, name in ((a, "dict"), (b, "arrays")):
        transform_one(v, q)
        t = time.perf_counter()
        for _ in range(2000): transform_one(v, q)
        print(name, len(v.vocabulary_), round((time.perf_counter() - t) / 2000 * 1e6, 1), "us")
