"""Dispatch policy: which available experts get offered a case, and why.

Pure and vectorised: the caller says who is online; the policy filters (spare capacity, language),
scores the rest and picks ``fanout`` experts:

    score = w_expertise * expertise (min-max scaled within the pool, 0..1)
          + w_capacity  * spare capacity (1 - load / max_cases)
          + w_speed     * speed (1 / (1 + median first response / speed_ref_s); unknown -> prior)
          + exploration bonus for new experts: explore_bonus * (1 - resolved / new_until), >= 0

and, with probability ``epsilon``, the last offer slot goes to a random *new* eligible expert
(fewer than ``new_until`` resolved cases), so newcomers get work even when the optimistic bonus
is not enough. Every decision records the score parts of the experts it ranked and why others
were filtered. ``choose_arrays`` takes columns (numpy arrays) and is what the 10k-candidate
latency benchmark measures; ``choose`` accepts ``Candidate`` objects.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

ExpertId = Hashable
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Candidate:
    """An online expert who could be offered the case."""

    expert_id: ExpertId
    expertise: float = 0.0  # ranker score (any scale; scaled within the pool)
    load: int = 0
    max_cases: int = 1
    languages: Sequence[str] = ()
    topics: Sequence[str] = ()
    median_response_s: float | None = None
    resolved_count: int = 0
    joined_at: float | None = None  # seconds (any epoch), informational


@dataclass(frozen=True)
class PolicyWeights:
    """Weights and knobs of the policy."""

    expertise: float = 1.0
    capacity: float = 0.3
    speed: float = 0.2
    speed_prior: float = 0.5  # speed term for experts without response history
    speed_ref_s: float = 60.0
    explore_bonus: float = 0.3
    new_until: int = 5  # resolved cases after which an expert is no longer "new"
    epsilon: float = 0.1


@dataclass
class Decision:
    """What the policy chose and why."""

    chosen: list[dict[str, Any]] = field(default_factory=list)
    ranked: list[dict[str, Any]] = field(default_factory=list)
    filtered: dict[ExpertId, str] = field(default_factory=dict)
    filtered_counts: dict[str, int] = field(default_factory=dict)
    explored: bool = False
    eligible: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (filtered keys as strings)."""
        out = asdict(self)
        out["filtered"] = {str(k): v for k, v in self.filtered.items()}
        return out


def _language_ok(case_language: str, spoken: Sequence[str]) -> bool:
    base = case_language.split("-")[0].lower()
    langs = spoken or ("en",)
    return any(lang.split("-")[0].lower() == base for lang in langs)


def choose(candidates: Sequence[Candidate], *, fanout: int = 1, language: str | None = None,
           weights: PolicyWeights | None = None, rng: np.random.Generator | int | None = None,
           record: int = 10) -> Decision:
    """Pick ``fanout`` experts among ``candidates`` (see module doc)."""
    n = len(candidates)
    lang_ok = np.ones(n, dtype=bool)
    if language is not None:
        lang_ok = np.array([_language_ok(language, c.languages) for c in candidates], dtype=bool)
    resp = np.array([np.nan if c.median_response_s is None else c.median_response_s
                     for c in candidates], dtype=np.float64)
    return choose_arrays(
        [c.expert_id for c in candidates],
        np.array([c.expertise for c in candidates], dtype=np.float64),
        np.array([c.load for c in candidates], dtype=np.float64),
        np.array([c.max_cases for c in candidates], dtype=np.float64),
        resp, np.array([c.resolved_count for c in candidates], dtype=np.float64),
        lang_ok=lang_ok, fanout=fanout, weights=weights, rng=rng, record=record)


def choose_arrays(ids: Sequence[ExpertId], expertise: FloatArray, load: FloatArray,
                  max_cases: FloatArray, median_response_s: FloatArray, resolved: FloatArray, *,
                  lang_ok: npt.NDArray[np.bool_] | None = None, fanout: int = 1,
                  weights: PolicyWeights | None = None,
                  rng: np.random.Generator | int | None = None, record: int = 10,
                  record_filtered: int = 50) -> Decision:
    """Columnar ``choose``: one array per field (NaN response time = unknown)."""
    w = weights or PolicyWeights()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    cap_ok = load < max_cases
    ok = cap_ok if lang_ok is None else cap_ok & lang_ok
    dec = Decision()
    bad = np.flatnonzero(~ok)
    if len(bad):
        n_cap = int((~cap_ok).sum())
        dec.filtered_counts = {"at_capacity": n_cap, "language": len(bad) - n_cap}
        for i in bad[:record_filtered]:
            dec.filtered[ids[i]] = "at_capacity" if not cap_ok[i] else "language"
    idx = np.flatnonzero(ok)
    dec.eligible = len(idx)
    if not len(idx) or fanout <= 0:
        return dec
    ex = expertise[idx]
    lo, hi = float(ex.min()), float(ex.max())
    ex_s = (ex - lo) / (hi - lo) if hi > lo else np.full(len(idx), 0.5)
    spare = 1.0 - load[idx] / np.maximum(max_cases[idx], 1.0)
    rt = median_response_s[idx]
    speed = np.where(np.isnan(rt), w.speed_prior, 1.0 / (1.0 + np.nan_to_num(rt) / w.speed_ref_s))
    res = resolved[idx]
    newness = np.clip(1.0 - res / max(w.new_until, 1), 0.0, 1.0)
    score = (w.expertise * ex_s + w.capacity * spare + w.speed * speed
             + w.explore_bonus * newness)
    k = min(fanout, len(idx))
    top = np.argpartition(-score, k - 1)[:k] if k < len(idx) else np.arange(len(idx))
    top = top[np.argsort(-score[top], kind="stable")]
    picks = [int(t) for t in top]
    if w.epsilon > 0 and gen.random() < w.epsilon:
        new = np.flatnonzero(res < w.new_until)
        new = new[~np.isin(new, top)]
        if len(new):
            picks[-1] = int(gen.choice(new))
            dec.explored = True
    n_rec = min(max(record, k), len(idx))
    rec = np.argpartition(-score, n_rec - 1)[:n_rec] if n_rec < len(idx) else np.arange(len(idx))
    rec = rec[np.argsort(-score[rec], kind="stable")]

    def why(j: int) -> dict[str, Any]:
        return {"expert_id": ids[idx[j]], "score": round(float(score[j]), 4),
                "expertise": round(float(ex[j]), 4), "expertise_scaled": round(float(ex_s[j]), 4),
                "spare_capacity": round(float(spare[j]), 4), "speed": round(float(speed[j]), 4),
                "new_bonus": round(float(w.explore_bonus * newness[j]), 4),
                "resolved": int(res[j])}

    dec.ranked = [why(int(j)) for j in rec]
    for j in picks:
        r = why(j)
        r["why"] = "exploration (new expert)" if dec.explored and j == picks[-1] else "top score"
        dec.chosen.append(r)
    return dec
