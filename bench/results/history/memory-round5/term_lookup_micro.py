"""`transform_one` for one question with the vocabulary as scikit-learn's dict and as a `TermIndex`
(the suggestion index's two vectorizers, fitted on 5,000 questions from the shipped BANKING77
subset), microseconds per call:

    python bench/results/history/memory-round5/term_lookup_micro.py   (from the checkout's root)
"""
import csv
import random
import time

from sklearn.feature_extraction.text import TfidfVectorizer

from matching.suggestions import content_words
from matching.tfidf import freeze, transform_one

rows = list(csv.reader(open("gigcx/data/banking77/demo.csv")))[1:]
questions = [r[0] for r in rows]
random.seed(1)
texts = [random.choice(questions) + f" order {i}" for i in range(5000)]
makers = (lambda: TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2)),
          lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                  preprocessor=content_words))
query = "my card has not arrived yet, where is it? I ordered it two weeks ago"
for make in makers:
    plain, frozen = make().fit(texts), freeze(make().fit(texts))
    for vec, name in ((plain, "dict"), (frozen, "arrays")):
        transform_one(vec, query)
        start = time.perf_counter()
        for _ in range(2000):
            transform_one(vec, query)
        print(name, len(vec.vocabulary_), round((time.perf_counter() - start) / 2000 * 1e6, 1), "us")
