"""Adversaries in the marketplace simulation: how much of their pay the trust controls hold, and
what honest experts lose or gain (`python bench/simulate_marketplace.py --adversaries`).

The world of simulate_marketplace.make_world, routed by the real policy (matching.ExpertRanker +
matching.dispatch), with 12 of the 48 experts dishonest and every case's reward decided by the
real scoring code (payouts.trust: signals, weights, rating weights, shrunk quality, the dispatch
penalty, QA sampling). Every number below is an assumption of this synthetic world:

* customers: 70% of questions come from one-off customers, 30% from 300 regulars; a customer
  connects from their own network and device, except that 0.3% of honest cases share the
  expert's network (same office, café, carrier NAT);
* honest experts answer in words, except 2% of cases closed with a one-liner ("Done, refunded.");
  customers confirm 70% of resolutions and stay silent on 30% (deny them when not solved);
  40% of cases get a rating;
* self-dealers (4) also ask their own questions from 3 puppet accounts every ~25 minutes online
  (worst case: they always get the offer), 40% of those from their own device, 30% from their own
  network on another device, 30% through a VPN; half go through ask-to-confirm in under 30 s;
  10% use their own verified account; they rate themselves 5;
* silent resolvers (4) accept real questions and propose resolution without a word; 60% of their
  customers stay silent (paid by silence without controls), the rest deny;
* rating rings (4): each has 2 friends who ask slow, well-answered fake questions from their own
  devices and rate 5, about every 40 minutes the expert is online.
The brand reviews 5% of resolved cases (QA sample): a sampled case passes when the customer's
problem was solved. A wrongly held honest reward is released on review, so it is late, not lost.
"""
from __future__ import annotations

import heapq
import statistics
from typing import Any

import numpy as np

from matching import ExpertRanker, ResolvedCase
from matching.dispatch import Candidate, choose
from payouts import trust as T

KINDS = ("self-dealer", "silent resolver", "rating ring")
N_EACH = 4
REGULARS = 300


def adversaries(seed: int, n_experts: int) -> dict[int, str]:
    """Which experts are dishonest (among the first three quarters: they have history)."""
    rng = np.random.default_rng(seed + 7)
    picks = rng.choice(n_experts * 3 // 4, N_EACH * len(KINDS), replace=False)
    return {int(e): KINDS[i // N_EACH] for i, e in enumerate(picks)}


def run(world: dict[str, Any], seed: int, controls: bool, sim: Any) -> dict[str, Any]:
    """Replay the stream with adversaries; `controls` on = the trust controls decide pay and routing."""
    rng = np.random.default_rng(seed + 99)
    E, n = len(world["speed"]), len(world["arrivals"])
    bad = adversaries(seed, E)
    settings = T.TrustSettings(qa_sample_rate=0.05)
    load = np.zeros(E, dtype=int)
    resolved_n = np.zeros(E)
    response: list[list[float]] = [[] for _ in range(E)]
    history: list[ResolvedCase] = []
    ranker, fitted_at = None, 0
    paid = np.zeros(E)          # rewards paid out (after review; wrongly held honest ones released)
    earned = np.zeros(E)        # rewards the expert would get without controls
    held_sig = np.zeros(E)      # held by fraud signals
    held_q = np.zeros(E)        # held for low quality only
    ratings: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (expert, topic) -> (customer, csat)
    reviews: dict[tuple[int, int], list[bool]] = {}
    raters: dict[int, dict[int, int]] = {}  # expert -> customer -> ratings given (any topic)
    pairs: dict[tuple[int, int], int] = {}
    strata: dict[tuple[int, int], int] = {}
    events: list[tuple[float, int, str, int, int]] = []
    seq = 0

    def push(t: float, kind: str, case: int, expert: int = -1) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, case, expert))

    norms: dict[int, list[float]] = {}  # topic -> [sum of 0..1 ratings, count]

    def norm(topic: int) -> float:
        s_n = norms.get(topic)
        return s_n[0] / s_n[1] if s_n else 0.75

    def quality(e: int, topic: int) -> float | None:
        rs = ratings.get((e, topic), [])
        rv = reviews.get((e, topic), [])
        if not rs and not rv:
            return None
        nm = norm(topic)
        ring = T.ring_suspected(rs, nm, settings, raters.get(e)) if controls else False
        w = T.rating_weights([c for c, _ in rs], ring) if controls else [1.0] * len(rs)
        return T.quality_score([(T.csat_value(c), wi) for (_, c), wi in zip(rs, w)], rv, nm,
                               settings.quality_prior_strength)

    fraud_earned = np.zeros(E)  # rewards of dishonest cases (own questions, ring friends', silent no-answer)
    fraud_held = np.zeros(E)

    def settle(e: int, topic: int, customer: int, facts: dict[str, Any], stars: int | None,
               solved: bool, fraud: bool = False) -> None:
        """One resolved, paid-per-rules case: rating, signals, QA sample, money."""
        pairs[(customer, e)] = pairs.get((customer, e), 0) + 1
        if stars is not None:
            ratings.setdefault((e, topic), []).append((customer, stars))
            mine = raters.setdefault(e, {})
            mine[customer] = mine.get(customer, 0) + 1
            acc = norms.setdefault(topic, [0.0, 0])
            acc[0] += T.csat_value(stars)
            acc[1] += 1
        strata[(e, topic)] = strata.get((e, topic), 0) + 1
        if T.sampled(settings.qa_sample_rate, strata[(e, topic)], T.stratum_offset("sim", e, topic)):
            reviews.setdefault((e, topic), []).append(solved)
        ring = stars is not None and T.ring_suspected(ratings[(e, topic)], norm(topic), settings, raters.get(e))
        f = T.CaseFacts(pair_count=pairs[(customer, e)], rating_ring=ring, quality=quality(e, topic), **facts)
        earned[e] += 1
        fraud_earned[e] += fraud
        if not controls:
            paid[e] += 1
            return
        sig = T.assess(f, settings)
        strict = [s for s in sig.signals if s.code != "low_quality"]
        if sig.hold and T.score(strict, settings).hold:
            held_sig[e] += 1
        elif sig.hold:
            held_q[e] += 1
        fraud_held[e] += fraud and sig.hold
        if not sig.hold or e not in bad:
            paid[e] += 1  # held honest work is released on review; dishonest work is rejected

    # the real stream, plus the adversaries' own questions while they are online
    for i, t in enumerate(world["arrivals"]):
        push(float(t), "dispatch", i)
    horizon = float(world["arrivals"][-1])
    for e, kind in bad.items():
        if kind == "silent resolver":
            continue
        gap = 1500.0 if kind == "self-dealer" else 2400.0
        t = float(rng.exponential(gap))
        while t < horizon:
            if sim.online(world, e, t):
                push(t, "fake", -1, e)
            t += float(rng.exponential(gap))
    offered: list[set[int]] = [set() for _ in range(n)]
    customers = np.where(rng.random(n) < 0.3, rng.integers(0, REGULARS, n), REGULARS + np.arange(n))
    while events:
        t, _, kind, c, e = heapq.heappop(events)
        if kind == "release":
            load[e] -= 1
            continue
        if kind == "expire":
            load[e] -= 1
            push(t, "dispatch", c)
            continue
        if kind == "fake":
            topic = int(rng.choice(sorted(world["approved"][e])))
            if bad[e] == "self-dealer":
                how = rng.random()
                facts = {"same_device": how < 0.4, "same_network": how < 0.7,
                         "own_account": rng.random() < 0.1,
                         "cycle_seconds": float(rng.uniform(3, 30) if rng.random() < 0.5 else rng.uniform(60, 600))}
                puppet = -(e * 10 + int(rng.integers(0, 3))) - 1
            else:
                facts = {"cycle_seconds": float(rng.uniform(300, 1500))}
                puppet = -(e * 10 + int(rng.integers(0, 2))) - 1
            settle(e, topic, puppet, facts, 5, True, fraud=True)
            history.append(ResolvedCase(f"t{topic}w0 fake", [str(topic)], e, True,
                                        None if controls and (e, topic) in ratings and T.ring_suspected(
                                            ratings[(e, topic)], norm(topic), settings, raters.get(e)) else 5))
            continue
        topic = int(world["topics"][c])
        if len(offered[c]) >= sim.MAX_OFFERS or t - world["arrivals"][c] > sim.ESCALATE_S:
            continue
        pool = [x for x in range(E) if topic in world["approved"][x] and x not in offered[c]
                and load[x] < world["cap"][x] and sim.online(world, x, t)]
        if not pool:
            push(t + sim.RETRY_S, "dispatch", c)
            continue
        if ranker is None or len(history) - fitted_at >= sim.REFIT:
            ranker, fitted_at = ExpertRanker().fit(history), len(history)
        scores = dict(ranker.rank(world["texts"][c], [str(topic)], candidates=pool))
        if controls:
            for x in pool:
                f = T.dispatch_factor(quality(x, topic), settings.quality_threshold)
                scores[x] = scores[x] * f if scores[x] >= 0 else scores[x] / f
        cands = [Candidate(x, scores[x], int(load[x]), int(world["cap"][x]),
                           median_response_s=statistics.median(response[x][-30:]) if response[x] else None,
                           resolved_count=int(resolved_n[x])) for x in pool]
        pick = int(choose(cands, fanout=1, rng=rng).chosen[0]["expert_id"])
        offered[c].add(pick)
        load[pick] += 1
        u = world["u"][c]
        if u[len(offered[c]) - 1] > world["accept_p"][pick]:
            push(t + sim.OFFER_TIMEOUT_S, "expire", c, pick)
            continue
        delay = 5 + 20 * u[3]
        speed = world["speed"][pick] * float(np.exp(0.5 * (u[4] - 0.5)))
        skill = world["skill"][pick, topic]
        silent_kind = bad.get(pick) == "silent resolver"
        ok = (not silent_kind) and u[5] < skill
        stars = round(1 + 4 * float(np.clip(skill + 0.3 * (u[6] - 0.5) - (0 if ok else 0.3), 0, 1)))
        if silent_kind:
            stars = 1 + int(u[6] < 0.3)
        rated = u[7] < 0.4
        resolved_n[pick] += ok
        response[pick].append(delay + speed)
        history.append(ResolvedCase(world["texts"][c], [str(topic)], pick, ok, stars if rated else None))
        push(t + delay + world["handle"][c], "release", c, pick)
        silence = rng.random() < (0.6 if silent_kind else 0.3)
        if not ok and not silence:
            continue  # the customer denied: unresolved, no pay
        same_net = rng.random() < 0.003
        facts = {"same_network": same_net, "confirmed_by_silence": silence,
                 "substantive_answer": not silent_kind and rng.random() >= 0.02,
                 "cycle_seconds": None if silence else float(delay + speed + rng.exponential(300))}
        settle(pick, topic, int(customers[c]), facts, stars if rated else None, ok, fraud=silent_kind)
    honest = np.array([e not in bad for e in range(E)])
    out: dict[str, Any] = {"paid": paid, "earned": earned, "held_sig": held_sig, "held_q": held_q,
                           "honest": honest, "bad": bad, "fraud_earned": fraud_earned, "fraud_held": fraud_held}
    return out


def report(sim: Any, seeds: int, questions: int) -> str:
    """Run with and without controls over seeds; a Markdown table of per-seed means and ranges."""
    rows: dict[str, list[float]] = {}
    for seed in range(seeds):
        world = sim.make_world(seed, questions)
        off = run(world, seed, False, sim)
        on = run(world, seed, True, sim)
        bad = on["bad"]
        for kind in KINDS:
            ids = [e for e, k in bad.items() if k == kind]
            rows.setdefault(kind + ":recall", []).append(on["held_sig"][ids].sum() + on["held_q"][ids].sum())
            rows.setdefault(kind + ":frecall", []).append(on["fraud_held"][ids].sum() / max(on["fraud_earned"][ids].sum(), 1))
            rows.setdefault(kind + ":earned", []).append(on["earned"][ids].sum())
            rows.setdefault(kind + ":paid_off", []).append(off["paid"][ids].sum())
            rows.setdefault(kind + ":paid_on", []).append(on["paid"][ids].sum())
        h = on["honest"]
        rows.setdefault("honest:held_sig", []).append(on["held_sig"][h].sum() / max(on["earned"][h].sum(), 1))
        rows.setdefault("honest:held_q", []).append(on["held_q"][h].sum() / max(on["earned"][h].sum(), 1))
        rows.setdefault("honest:change", []).append(on["paid"][h].sum() / max(off["paid"][h].sum(), 1) - 1)
        rows.setdefault("honest:cases", []).append(on["earned"][h].sum())
    lines = ["| expert type | dishonest rewards held (recall) | all their rewards held | paid without controls "
             "| paid with controls |", "|---|---|---|---|---|"]
    for kind in KINDS:
        rec = [r / max(e, 1) for r, e in zip(rows[kind + ":recall"], rows[kind + ":earned"])]
        lines.append(f"| {kind} ({N_EACH}) | {_spread(rows[kind + ':frecall'], pct=True)} | {_spread(rec, pct=True)} "
                     f"| {statistics.mean(rows[kind + ':paid_off']):.0f} | {statistics.mean(rows[kind + ':paid_on']):.0f} |")
    lines += ["", "| honest experts (36) | share |", "|---|---|",
              f"| rewards wrongly held by fraud signals | {_spread(rows['honest:held_sig'], pct=True)} |",
              f"| rewards held for low quality (under the threshold) | {_spread(rows['honest:held_q'], pct=True)} |",
              f"| earnings change with controls (held work released on review) | "
              f"{_spread(rows['honest:change'], pct=True, sign=True)} |",
              f"| paid cases per run | {statistics.mean(rows['honest:cases']):.0f} |"]
    return "\n".join(lines) + "\n"


def _spread(values: list[float], pct: bool = False, sign: bool = False) -> str:
    f = (lambda v: f"{v * 100:+.1f}%" if sign else f"{v * 100:.1f}%") if pct else (lambda v: f"{v:.2f}")
    return f"{f(statistics.mean(values))} ({f(min(values))} to {f(max(values))})"
