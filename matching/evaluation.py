"""Ranking metrics, the tag-count baseline and the CQA routing evaluation protocol."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import Protocol

from matching.datasets import CQAQuestion
from matching.ranker import ResolvedCase

ExpertId = Hashable


class Ranker(Protocol):
    """Anything with ExpertRanker's ``rank`` signature."""

    def rank(
        self, text: str, topics: Sequence[str], candidates: Iterable[ExpertId] | None = None,
        *, at: float | None = None,
    ) -> list[tuple[ExpertId, float]]: ...


class TagCountRanker:
    """Baseline: score = number of past cases of the expert on the question's topics."""

    def fit(self, cases: Iterable[ResolvedCase]) -> TagCountRanker:
        """Count cases per (expert, topic); returns self."""
        self.counts_: dict[str, Counter[ExpertId]] = defaultdict(Counter)
        self.experts_: list[ExpertId] = []
        seen: set[ExpertId] = set()
        for c in cases:
            if c.expert_id not in seen:
                seen.add(c.expert_id)
                self.experts_.append(c.expert_id)
            for t in set(c.topics):
                self.counts_[t][c.expert_id] += 1
        self.experts_.sort(key=str)
        return self

    def rank(
        self, text: str, topics: Sequence[str], candidates: Iterable[ExpertId] | None = None,
        *, at: float | None = None,
    ) -> list[tuple[ExpertId, float]]:
        """Experts by summed topic counts, ties by str(expert_id); ``at`` is ignored."""
        pool = list(dict.fromkeys(candidates)) if candidates is not None else self.experts_
        scored = [(e, float(sum(self.counts_[t][e] for t in set(topics) if t in self.counts_)))
                  for e in pool]
        scored.sort(key=lambda p: (-p[1], str(p[0])))
        return scored


def reciprocal_rank(ranking: Sequence[tuple[ExpertId, float]], target: ExpertId) -> float:
    """1/rank of target in ranking (0.0 when absent)."""
    for i, (e, _) in enumerate(ranking):
        if e == target:
            return 1.0 / (i + 1)
    return 0.0


def published_questions(
    questions: Sequence[CQAQuestion], seen: Collection[ExpertId]
) -> list[CQAQuestion]:
    """The published protocol's test set: questions whose accepted answerer answered in train,
    with the candidate answerers restricted to those who answered in train."""
    out = []
    for q in questions:
        if q.accepted_answerer in seen:
            own = [a for a in q.answerers if a in seen]
            out.append(CQAQuestion(q.question_id, q.text, q.topics, q.accepted_answerer, own,
                                   q.at))
    return out


def evaluate_routing(
    ranker: Ranker, questions: Sequence[CQAQuestion], setting: str, use_time: bool = True
) -> dict[str, float]:
    """P@1 and MRR for finding the accepted answerer.

    setting "all": rank every expert known to the ranker (a question whose accepted answerer
    was never seen in training scores 0). setting "answerers": rank only that question's
    ``answerers``. Pass ``published_questions(...)`` for the published protocol. With
    ``use_time`` each question is ranked at its own ``at`` (when it was asked), else at None.
    """
    p1 = rr = 0.0
    for q in questions:
        cands = None if setting == "all" else q.answerers
        ranking = ranker.rank(q.text, q.topics, cands, at=q.at if use_time else None)
        r = reciprocal_rank(ranking, q.accepted_answerer)
        rr += r
        p1 += 1.0 if r == 1.0 else 0.0
    n = max(len(questions), 1)
    return {"p@1": p1 / n, "mrr": rr / n}


def random_answerers_baseline(questions: Sequence[CQAQuestion]) -> dict[str, float]:
    """Exact expected P@1 and MRR of a uniformly random order of each question's answerers."""
    p1 = rr = 0.0
    for q in questions:
        n = len(q.answerers)
        if q.accepted_answerer not in q.answerers:
            continue
        p1 += 1.0 / n
        rr += sum(1.0 / k for k in range(1, n + 1)) / n
    m = max(len(questions), 1)
    return {"p@1": p1 / m, "mrr": rr / m}
