"""Fraud and quality controls for pay-per-resolution rewards: pure scoring, no I/O.

The app gathers plain facts about a resolved case (`CaseFacts`) and a brand's settings
(`TrustSettings`); `assess` turns them into weighted `Signal`s and decides whether the case's
reward is held for the brand's review. Rating weights (rating rings), shrunk quality scores,
stratified QA sampling and the dispatch penalty for low quality are plain functions too, so the
marketplace simulation (bench/simulate_marketplace.py) runs exactly the code the app runs.

No signal blocks anything: at most, a case's reward waits for a person to release or reject it.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

#: signal code -> default weight. A case's reward is held when the weights of its signals add up
#: to `hold_threshold` (1.0 by default): strong evidence holds alone, weak evidence needs company.
DEFAULT_WEIGHTS: dict[str, float] = {
    "own_account": 1.0,            # the customer's verified id is the expert's own
    "same_device": 1.0,            # customer and expert connected from one address and user agent
    "shared_payout_account": 1.0,  # the expert's payout account is also another expert's
    "silent_no_answer": 1.0,       # confirmed by silence, and the expert never really answered
    "low_quality": 1.0,            # the expert's quality score in the topic is under the threshold
    "same_network": 0.5,           # same network address (not the same user agent)
    "fast_cycle": 0.5,             # accepted to confirmed faster than a person reads and answers
    "repeat_pair": 0.5,            # this customer identity keeps being served by this expert
    "rating_ring": 0.5,            # repeat raters or few customers rating far above the topic norm
}

SIGNAL_TEXT: dict[str, str] = {
    "own_account": "the customer's verified identity is the expert's own account",
    "same_device": "the customer connected from the expert's network address and user agent",
    "shared_payout_account": "the expert's payout account is shared with another expert",
    "silent_no_answer": "confirmed by silence without a substantive answer from the expert",
    "low_quality": "the expert's quality score in this topic is below the brand's threshold",
    "same_network": "the customer connected from the expert's network address",
    "fast_cycle": "accepted to confirmed implausibly fast",
    "repeat_pair": "the same customer was served by this expert repeatedly",
    "rating_ring": "ratings look coordinated (repeat raters, or few customers far above the topic norm)",
}


class SettingsError(ValueError):
    """A trust setting is out of range or unknown."""


@dataclass(frozen=True)
class TrustSettings:
    """A brand's knobs (all have defaults; `from_dict` merges a partial dict over them)."""

    enabled: bool = True
    hold_threshold: float = 1.0
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    fast_cycle_s: float = 30.0
    repeat_pair_min: int = 3
    repeat_window_days: int = 30
    substantive_min_chars: int = 40
    substantive_min_words: int = 6
    ring_repeat_min: int = 3
    ring_max_customers: int = 3
    ring_min_ratings: int = 4
    ring_gap: float = 0.25
    qa_sample_rate: float = 0.0
    quality_threshold: float = 0.3
    quality_prior_strength: float = 5.0

    def weight(self, code: str) -> float:
        """The weight of a signal (0 disables it)."""
        return float(self.weights.get(code, DEFAULT_WEIGHTS.get(code, 0.0)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings with every weight spelled out."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["weights"] = {**DEFAULT_WEIGHTS, **dict(self.weights)}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TrustSettings:
        """Settings from a stored or patched dict; unknown keys or signals raise SettingsError."""
        base = cls()
        if not data:
            return base
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise SettingsError(f"unknown trust settings: {', '.join(sorted(unknown))}")
        values = {k: v for k, v in data.items() if k != "weights"}
        weights = dict(DEFAULT_WEIGHTS)
        for code, w in dict(data.get("weights") or {}).items():
            if code not in DEFAULT_WEIGHTS:
                raise SettingsError(f"unknown signal {code!r}")
            weights[code] = float(w)
        out = replace(base, **values, weights=weights)
        out.check()
        return out

    def check(self) -> None:
        """Raise SettingsError on an out-of-range value."""
        if not 0.0 < self.hold_threshold <= 100.0:
            raise SettingsError("hold_threshold must be in (0, 100]")
        if any(not 0.0 <= w <= 100.0 for w in self.weights.values()):
            raise SettingsError("weights must be in [0, 100]")
        if not 0.0 <= self.qa_sample_rate <= 1.0 or not 0.0 <= self.quality_threshold <= 1.0:
            raise SettingsError("qa_sample_rate and quality_threshold are fractions in [0, 1]")
        if self.quality_prior_strength < 0 or self.fast_cycle_s < 0 or self.ring_gap < 0:
            raise SettingsError("quality_prior_strength, fast_cycle_s and ring_gap must be >= 0")
        if min(self.repeat_pair_min, self.ring_repeat_min, self.ring_min_ratings, self.repeat_window_days) < 1:
            raise SettingsError("counts and windows must be >= 1")


@dataclass(frozen=True)
class CaseFacts:
    """What the app knows about a resolved case, as plain values."""

    own_account: bool = False
    same_device: bool = False
    same_network: bool = False
    shared_payout_account: bool = False
    cycle_seconds: float | None = None  # assignment to an explicit customer confirmation
    pair_count: int = 1                 # resolved cases of this customer with this expert, recent
    confirmed_by_silence: bool = False
    substantive_answer: bool = True
    rating_ring: bool = False
    quality: float | None = None        # the expert's quality score in the topic


@dataclass(frozen=True)
class Signal:
    """One reason to look at a case, with its weight and a sentence for people."""

    code: str
    weight: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"code": self.code, "weight": self.weight, "reason": self.reason}


@dataclass(frozen=True)
class Assessment:
    """The signals of a case, their summed weight and whether the reward is held."""

    signals: tuple[Signal, ...]
    score: float
    hold: bool

    @property
    def reasons(self) -> list[str]:
        """The signals' sentences."""
        return [s.reason for s in self.signals]


def detect(facts: CaseFacts, settings: TrustSettings) -> list[Signal]:
    """Every signal the facts raise (weight 0 means the brand switched it off: not raised)."""
    raised: list[tuple[str, str]] = []
    if facts.own_account:
        raised.append(("own_account", ""))
    if facts.same_device:
        raised.append(("same_device", ""))
    elif facts.same_network:
        raised.append(("same_network", ""))
    if facts.shared_payout_account:
        raised.append(("shared_payout_account", ""))
    if facts.confirmed_by_silence and not facts.substantive_answer:
        raised.append(("silent_no_answer", ""))
    if facts.cycle_seconds is not None and facts.cycle_seconds < settings.fast_cycle_s:
        raised.append(("fast_cycle", f" ({facts.cycle_seconds:.0f} s < {settings.fast_cycle_s:.0f} s)"))
    if facts.pair_count >= settings.repeat_pair_min:
        raised.append(("repeat_pair", f" ({facts.pair_count} cases in {settings.repeat_window_days} days)"))
    if facts.rating_ring:
        raised.append(("rating_ring", ""))
    if facts.quality is not None and facts.quality < settings.quality_threshold:
        raised.append(("low_quality", f" ({facts.quality:.2f} < {settings.quality_threshold:.2f})"))
    out = []
    for code, detail in raised:
        w = settings.weight(code)
        if w > 0:
            out.append(Signal(code, w, SIGNAL_TEXT[code] + detail))
    return out


def score(signals: Iterable[Signal], settings: TrustSettings) -> Assessment:
    """Sum the weights; hold when the brand has controls on and the sum reaches its threshold."""
    sigs = tuple(signals)
    total = round(sum(s.weight for s in sigs), 4)
    return Assessment(sigs, total, settings.enabled and total >= settings.hold_threshold - 1e-9)


def assess(facts: CaseFacts, settings: TrustSettings) -> Assessment:
    """`score(detect(facts))`."""
    return score(detect(facts, settings), settings)


_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def is_substantive(texts: Sequence[str], min_chars: int = 40, min_words: int = 6) -> bool:
    """Did the expert write an answer: enough letters and enough distinct words in all their
    messages together (greetings like "Hi!" or "ok" or a pasted "aaaa..." are not answers)."""
    joined = " ".join(texts)
    letters = sum(1 for ch in joined if not ch.isspace())
    words = {w.lower() for w in _WORD.findall(joined)}
    return letters >= min_chars and len(words) >= min_words


def csat_value(csat: int) -> float:
    """A 1..5 CSAT on the 0..1 quality scale."""
    return (min(max(csat, 1), 5) - 1) / 4.0


def rating_weights(raters: Sequence[Any], ring: bool = False) -> list[float]:
    """Weight of each of an expert's ratings given who gave it: a customer who rated the expert
    k times has each rating count 1/k (together they weigh as one customer); when the ratings
    look like a ring, repeat raters' ratings count a quarter of that."""
    counts: dict[Any, int] = {}
    for r in raters:
        counts[r] = counts.get(r, 0) + 1
    return [(1.0 / counts[r]) * (0.25 if ring and counts[r] > 1 else 1.0) for r in raters]


def ring_suspected(ratings: Sequence[tuple[Any, int]], topic_norm: float, settings: TrustSettings,
                   repeats: Mapping[Any, int] | None = None) -> bool:
    """An expert's (customer, csat) ratings in one topic look like a ring: some customer rated
    them `ring_repeat_min` times or more (in any topic, when `repeats` counts each customer's
    ratings of the expert across the brand), or at least `ring_min_ratings` ratings come from at
    most `ring_max_customers` customers and average `ring_gap` above the topic norm (0..1 scale)."""
    if not ratings:
        return False
    counts: dict[Any, int] = {}
    for who, _ in ratings:
        counts[who] = counts.get(who, 0) + 1
    most = max(max(counts.values()), max((repeats or {}).values(), default=0))
    if most >= settings.ring_repeat_min:
        return True
    if len(ratings) < settings.ring_min_ratings or len(counts) > settings.ring_max_customers:
        return False
    mean = sum(csat_value(c) for _, c in ratings) / len(ratings)
    return mean - topic_norm >= settings.ring_gap


def shrunk_mean(values: Sequence[tuple[float, float]], prior: float, strength: float) -> float:
    """Weighted mean of (value, weight) pulled toward `prior` as if `strength` more values of
    `prior` had been seen: few data stay near the prior, many decide for themselves."""
    total_w = sum(w for _, w in values)
    if total_w + strength <= 0:
        return prior
    return (sum(v * w for v, w in values) + prior * strength) / (total_w + strength)


def quality_score(ratings: Sequence[tuple[float, float]], reviews: Sequence[bool], prior: float,
                  strength: float, review_weight: float = 2.0) -> float:
    """An expert's quality in a topic, 0..1: weighted ratings (0..1, weight) and brand reviews
    (pass 1, fail 0, each weighing `review_weight` ratings), shrunk toward the topic's mean."""
    items = list(ratings) + [(1.0 if ok else 0.0, review_weight) for ok in reviews]
    return round(shrunk_mean(items, prior, strength), 4)


def dispatch_factor(quality: float | None, threshold: float) -> float:
    """Multiplier of an expert's expertise in routing: 1 at or above the threshold, falling with
    the square of the shortfall below it (never under 0.05: they still get some offers)."""
    if quality is None or threshold <= 0 or quality >= threshold:
        return 1.0
    return max(0.05, (quality / threshold) ** 2)


def stratum_offset(secret: str, *key: Any) -> float:
    """A stable, unguessable phase in [0, 1) for one stratum's sampling."""
    digest = hashlib.sha256("|".join([secret, *map(str, key)]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def sampled(rate: float, n: int, offset: float) -> bool:
    """Systematic sampling inside a stratum: is its n-th case (1-based) in the sample? Over any
    run of cases a stratum contributes rate*n of them (+-1), so every expert-topic pair is
    reviewed in proportion, and the phase hides which ones."""
    if rate <= 0 or n < 1:
        return False
    return math.floor(rate * n + offset) > math.floor(rate * (n - 1) + offset)
