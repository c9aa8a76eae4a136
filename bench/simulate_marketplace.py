"""Marketplace simulation: the real dispatch policy vs round robin and least busy.

    python bench/simulate_marketplace.py [--seeds 5] [--questions 2000] [--out FILE]

A seeded stream of questions over topics; experts with hidden per-topic skill (probability to
resolve), a speed (median seconds to first response), an accept probability, a case cap and
online sessions. A quarter of the experts join a third of the way through (new experts, no
history). Every policy sees the same world (same seed): a case is offered to one expert at a
time; an offer is accepted (after a delay) or times out after OFFER_TIMEOUT_S and cascades to
the next choice; after MAX_OFFERS failed offers, or when nobody is available for ESCALATE_S,
the case escalates. Policies:
* ours: matching.ExpertRanker (refitted every REFIT cases on the outcomes seen so far) +
  matching.dispatch.choose (expertise, spare capacity, observed speed, new-expert exploration);
* round robin (Chatwoot's default): next eligible expert in a fixed rotation;
* least busy (Rocket.Chat load balancing): eligible expert with the fewest open cases.
Reported per policy (median over seeds): first-response p50/p90 (s, from question to the
expert's first message), resolution rate, mean rating, escalation rate, Gini of earnings
(one unit per resolved case) and new experts' share of handled cases / how many got none.

With `--adversaries`, 12 of the experts are dishonest (self-dealers, silent resolvers, rating
rings) and the trust controls of payouts.trust decide pay and routing: see
bench/trust_adversaries.py for the adversaries' behaviour and what is reported.
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching import ExpertRanker, ResolvedCase  # noqa: E402
from matching.dispatch import Candidate, choose  # noqa: E402

TOPICS = 8
EXPERTS = 48
OFFER_TIMEOUT_S = 60.0
MAX_OFFERS = 3
ESCALATE_S = 600.0
RETRY_S = 30.0
REFIT = 250


def make_world(seed: int, n_questions: int) -> dict[str, Any]:
    """Everything random about one run, shared by all policies."""
    rng = np.random.default_rng(seed)
    vocab = [[f"t{t}w{i}" for i in range(30)] for t in range(TOPICS)]
    common = [f"c{i}" for i in range(60)]
    skill = rng.beta(2, 2, (EXPERTS, TOPICS))
    approved = [set(rng.choice(TOPICS, 3, replace=False).tolist()) for _ in range(EXPERTS)]
    horizon = n_questions * 20.0  # one question every ~20 s
    joins = np.where(np.arange(EXPERTS) >= EXPERTS * 3 // 4, horizon / 3, 0.0)
    sessions = []  # per expert: list of (start, end) online windows
    for e in range(EXPERTS):
        t, spans = joins[e] + rng.exponential(1800), []
        while t < horizon:
            length = rng.exponential(5400)
            spans.append((t, t + length))
            t += length + rng.exponential(3600)
        sessions.append(spans)
    arrivals = np.cumsum(rng.exponential(20.0, n_questions))
    topics = rng.integers(0, TOPICS, n_questions)
    texts = [" ".join(list(rng.choice(vocab[t], 6)) + list(rng.choice(common, 6)))
             for t in topics]
    return {
        "skill": skill, "approved": approved, "sessions": sessions, "joins": joins,
        "speed": rng.lognormal(np.log(40), 0.6, EXPERTS),
        "accept_p": rng.uniform(0.6, 0.95, EXPERTS), "cap": rng.integers(2, 4, EXPERTS),
        "arrivals": arrivals, "topics": topics, "texts": texts,
        "u": rng.random((n_questions, 8)),  # per-case randomness shared by all policies
        "handle": rng.exponential(900, n_questions),
    }


def online(world: dict[str, Any], e: int, t: float) -> bool:
    """Whether expert e is online at time t."""
    return any(a <= t < b for a, b in world["sessions"][e])


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values."""
    if x.sum() == 0:
        return 0.0
    s = np.sort(x)
    n = len(s)
    return float((2 * np.arange(1, n + 1) - n - 1) @ s / (n * s.sum()))


def run(world: dict[str, Any], policy: str, seed: int) -> dict[str, float]:
    """Replay the stream through one policy."""
    n = len(world["arrivals"])
    load = np.zeros(EXPERTS, dtype=int)
    resolved_n = np.zeros(EXPERTS)
    handled = np.zeros(EXPERTS)
    response: list[list[float]] = [[] for _ in range(EXPERTS)]
    history: list[ResolvedCase] = []
    ranker: ExpertRanker | None = None
    fitted_at = 0
    rr_next = 0
    rng = np.random.default_rng(seed + 1000)
    events: list[tuple[float, int, str, int, int]] = []  # (time, seq, kind, case, expert)
    seq = 0

    def push(t: float, kind: str, case: int, expert: int = -1) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, case, expert))

    for i, t in enumerate(world["arrivals"]):
        push(float(t), "dispatch", i)
    offered: list[set[int]] = [set() for _ in range(n)]
    first_resp = np.full(n, np.nan)
    outcome = np.zeros(n)  # 1 resolved, 0 not, -1 escalated
    rating = np.full(n, np.nan)
    while events:
        t, _, kind, c, e = heapq.heappop(events)
        if kind == "release":
            load[e] -= 1
            continue
        if kind == "expire":  # offer to e timed out: cascade
            load[e] -= 1
            push(t, "dispatch", c)
            continue
        topic = int(world["topics"][c])
        if len(offered[c]) >= MAX_OFFERS or t - world["arrivals"][c] > ESCALATE_S:
            outcome[c] = -1
            continue
        pool = [x for x in range(EXPERTS) if topic in world["approved"][x] and x not in offered[c]
                and load[x] < world["cap"][x] and online(world, x, t)]
        if not pool:
            push(t + RETRY_S, "dispatch", c)
            continue
        if policy == "round robin":
            order = sorted(pool, key=lambda x: (x - rr_next) % EXPERTS)
            pick = order[0]
            rr_next = pick + 1
        elif policy == "least busy":
            pick = min(pool, key=lambda x: (load[x], rng.random()))
        else:
            if ranker is None or len(history) - fitted_at >= REFIT:
                ranker = ExpertRanker().fit(history)
                fitted_at = len(history)
            scores = dict(ranker.rank(world["texts"][c], [str(topic)], candidates=pool))
            cands = [Candidate(x, scores[x], int(load[x]), int(world["cap"][x]),
                               median_response_s=statistics.median(response[x][-30:])
                               if response[x] else None, resolved_count=int(resolved_n[x]))
                     for x in pool]
            pick = int(choose(cands, fanout=1, rng=rng).chosen[0]["expert_id"])
        offered[c].add(pick)
        load[pick] += 1
        u = world["u"][c]
        accept_u = u[len(offered[c]) - 1]
        if accept_u > world["accept_p"][pick]:
            push(t + OFFER_TIMEOUT_S, "expire", c, pick)
            continue
        delay = 5 + 20 * u[3]
        speed = world["speed"][pick] * float(np.exp(0.5 * (u[4] - 0.5)))
        first_resp[c] = t + delay + speed - world["arrivals"][c]
        ok = u[5] < world["skill"][pick, topic]
        outcome[c] = 1.0 if ok else 0.0
        stars = 1 + 4 * float(np.clip(world["skill"][pick, topic] + 0.3 * (u[6] - 0.5)
                                      - (0 if ok else 0.3), 0, 1))
        rating[c] = round(stars)
        handled[pick] += 1
        resolved_n[pick] += ok
        response[pick].append(delay + speed)
        history.append(ResolvedCase(world["texts"][c], [str(topic)], pick, ok, round(stars)))
        push(t + delay + world["handle"][c], "release", c, pick)
    fr = first_resp[~np.isnan(first_resp)]
    new = world["joins"] > 0
    return {
        "fr_p50": float(np.percentile(fr, 50)), "fr_p90": float(np.percentile(fr, 90)),
        "resolution": float(np.mean(outcome == 1)), "rating": float(np.nanmean(rating)),
        "escalation": float(np.mean(outcome == -1)), "gini": gini(resolved_n),
        "new_share": float(handled[new].sum() / max(handled.sum(), 1)),
        "new_starved": float((handled[new] == 0).sum()),
        "new_fair_share": float(new.sum() / EXPERTS * (1 - 1 / 3)),
    }


def main() -> None:
    """Run all policies over several seeds and print a Markdown table of medians."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--adversaries", action="store_true",
                    help="self-dealers, silent resolvers and rating rings vs the trust controls "
                         "(bench/trust_adversaries.py)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.adversaries:
        import trust_adversaries

        table = trust_adversaries.report(sys.modules[__name__], args.seeds, args.questions)
        text = (f"Command: `python bench/simulate_marketplace.py --adversaries --seeds {args.seeds} --questions "
                f"{args.questions}` ({time.perf_counter() - t0:.0f} s); means over seeds 0..{args.seeds - 1} "
                "(range in brackets).\n\n" + table)
        print(text)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        return
    policies = ("ours (ranker + matching.dispatch)", "round robin", "least busy")
    results: dict[str, list[dict[str, float]]] = {p: [] for p in policies}
    for seed in range(args.seeds):
        world = make_world(seed, args.questions)
        for p in policies:
            results[p].append(run(world, p.split(" (")[0], seed))
    lines = [f"Command: `python bench/simulate_marketplace.py --seeds {args.seeds} --questions "
             f"{args.questions}` ({time.perf_counter() - t0:.0f} s); medians over seeds "
             f"0..{args.seeds - 1}; {EXPERTS} experts ({EXPERTS // 4} new, joining at 1/3 of "
             "the stream).", "",
             "| policy | first response p50 s | p90 s | resolution | mean rating | escalation | "
             "earnings Gini | new experts' share of cases | new experts with no case |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in policies:
        m = {k: statistics.median(r[k] for r in results[p]) for k in results[p][0]}
        lines.append(f"| {p} | {m['fr_p50']:.0f} | {m['fr_p90']:.0f} | {m['resolution']:.3f} | "
                     f"{m['rating']:.2f} | {m['escalation']:.3f} | {m['gini']:.3f} | "
                     f"{m['new_share']:.3f} | {m['new_starved']:.0f} / {EXPERTS // 4} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
