"""Loaders for the shared evaluation data (BANKING77, Stack Exchange CQA) as plain values.

The full data sets are not shipped (only the demo's small BANKING77 subset is, in
``gigcx/data/banking77``): they are looked for at ``<repo>/../shared/data``, or where the
environment variable ``GIGCX_SHARED_DATA`` points. ``missing_data`` says what is absent, so
benchmarks and tests that need them can say so and skip.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from matching.ranker import ResolvedCase

CQA_SITES = ("dba", "history", "physics")


def data_dir() -> Path:
    """Directory of the shared data (env GIGCX_SHARED_DATA or <repo>/../shared/data)."""
    env = os.environ.get("GIGCX_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


#: The files each data set needs, relative to ``data_dir()``.
DATA_FILES = {
    "banking77": ("banking77/train.csv", "banking77/test.csv"),
    "cqa": ("cqa/questions.csv", "cqa/answers.csv"),
}


def missing_data(*sets: str, root: Path | None = None) -> str | None:
    """None when the data ``sets`` (keys of ``DATA_FILES``) are present; else what is missing
    and how to provide it, in one sentence."""
    base = root or data_dir()
    absent = [str(base / f) for name in sets for f in DATA_FILES[name] if not (base / f).is_file()]
    if not absent:
        return None
    return (f"the full {' and '.join(sets)} data is not here (missing {', '.join(absent)}): "
            "set GIGCX_SHARED_DATA to the folder holding banking77/ and cqa/ "
            "(their sources and licences: docs/benchmarks.md)")


def load_banking77(split: str, root: Path | None = None) -> tuple[list[str], list[str]]:
    """(texts, labels) of BANKING77's official ``train`` or ``test`` split."""
    path = (root or data_dir()) / "banking77" / f"{split}.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["label"] for r in rows]


@dataclass(frozen=True)
class CQAQuestion:
    """One Stack Exchange question with its answerers (ids only) and the accepted answerer."""

    question_id: int
    text: str
    topics: list[str]
    accepted_answerer: str
    answerers: list[str]
    at: float | None = None  # when it was asked (the benchmark uses the question id)


def score_to_rating(score: int) -> int:
    """Map a Stack Exchange answer score to a 1-5 rating (0 -> 1, 1 -> 2, 3 -> 3, 7 -> 4, 15+ -> 5)."""
    return int(min(5, max(1, round(1 + math.log2(1 + max(score, 0))))))


def quantile_ratings(scores: list[int]) -> dict[int, float]:
    """Per-site mapping of answer score to a 1-5 rating by its mid-rank in ``scores``:
    1 + 4 x (share of scores below + half the share equal), so the site's median answer gets
    ~3 (the ranker's neutral rating prior) whatever the site's score scale."""
    counts = Counter(scores)
    out: dict[int, float] = {}
    below = 0
    for value in sorted(counts):
        out[value] = 1.0 + 4.0 * (below + 0.5 * counts[value]) / len(scores)
        below += counts[value]
    return out


def cqa_rows(
    site: str, root: Path | None = None
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The raw CSV rows of one CQA site: (questions, answers), as dicts of strings.

    For analyses that need what ``load_cqa`` folds away (answer scores and order, askers);
    the columns are listed in the data's README."""
    base = (root or data_dir()) / "cqa"
    with (base / "questions.csv").open(newline="", encoding="utf-8") as fh:
        qrows = [r for r in csv.DictReader(fh) if r["site"] == site]
    with (base / "answers.csv").open(newline="", encoding="utf-8") as fh:
        arows = [r for r in csv.DictReader(fh) if r["site"] == site]
    return qrows, arows


def load_cqa(
    site: str, root: Path | None = None, ratings: str = "log2", case_time: str = "answer"
) -> tuple[list[ResolvedCase], list[CQAQuestion], list[CQAQuestion]]:
    """(train cases, train questions, test questions) for one site; cases use train only.

    ``ratings``: "log2" (default) uses ``score_to_rating``; "quantile" maps an answer's score
    by its mid-rank among the site's train answers (``quantile_ratings``). Out-of-fold on train
    the two were level (see docs/benchmarks.md), so the benchmark keeps "log2".

    Time: Stack Exchange post ids (questions and answers share one sequence) grow with time, so
    a question's ``at`` is its id and a case's ``at`` is, with ``case_time="answer"`` (default),
    its answer's id: when it was handled, so "cases before a question" are answers posted
    before it was asked. ``case_time="question"`` dates a case by its question's id instead
    (an answer posted after a later question then counts as before it); "none" leaves
    ``at`` unset on cases and questions."""
    if ratings not in ("quantile", "log2"):
        raise ValueError(f"ratings must be 'quantile' or 'log2'; got {ratings!r}")
    if case_time not in ("answer", "question", "none"):
        raise ValueError(f"case_time must be 'answer', 'question' or 'none'; got {case_time!r}")
    qrows, arows = cqa_rows(site, root)
    by_q: dict[str, list[dict[str, str]]] = {}
    for a in arows:
        by_q.setdefault(a["question_id"], []).append(a)
    train_ids = {q["question_id"] for q in qrows if q["split"] == "train"}
    scale = quantile_ratings([int(a["score"]) for a in arows if a["question_id"] in train_ids])
    cases: list[ResolvedCase] = []
    train: list[CQAQuestion] = []
    test: list[CQAQuestion] = []
    for q in sorted(qrows, key=lambda r: int(r["question_id"])):
        text = f"{q['title']} {q['body_text']}".strip()
        topics = [t for t in q["tags"].split("|") if t]
        answers = sorted(by_q.get(q["question_id"], []), key=lambda r: int(r["answer_id"]))
        question = CQAQuestion(
            question_id=int(q["question_id"]),
            text=text,
            topics=topics,
            accepted_answerer=q["accepted_answerer_id"],
            answerers=list(dict.fromkeys(a["answerer_id"] for a in answers)),
            at=None if case_time == "none" else float(q["question_id"]),
        )
        if q["split"] == "train":
            train.append(question)
            for a in answers:
                cases.append(
                    ResolvedCase(
                        text=text,
                        topics=topics,
                        expert_id=a["answerer_id"],
                        resolved=a["accepted"] == "1",
                        rating=(scale[int(a["score"])] if ratings == "quantile"
                                else score_to_rating(int(a["score"]))),
                        at=(None if case_time == "none" else
                            float(a["answer_id"] if case_time == "answer" else q["question_id"])),
                    )
                )
        else:
            test.append(question)
    return cases, train, test
