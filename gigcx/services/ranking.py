"""Expert choice for a case: the brand's ExpertRanker (learned from its resolved and rated cases)
gives expertise; the pure policy `matching.dispatch` combines it with load, response speed and
exploration for new experts."""
from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cachetools import TTLCache
from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, col, select

from gigcx.models import Brand, Case, CaseStatus, Rating
from gigcx.models.base import table_of
from gigcx.services.modelcache import RefreshingCache
from gigcx.services.presence import Available
from matching import ExpertRanker, ResolvedCase
from matching import dispatch as policy
from matching.dispatch import Candidate

FINISHED = (CaseStatus.resolved, CaseStatus.escalated, CaseStatus.closed)
_CASE = table_of(Case)
_RATING = table_of(Rating)


def _history_version(session: Session, brand_id: int) -> tuple[Any, ...]:
    """Changes when a case with an expert finishes or is reviewed (what `history` reads)."""
    # sqlmodel's select() is typed for at most four columns:
    return tuple(session.exec(select(func.count(), func.max(Case.resolved_at), func.max(Case.reviewed_at),  # type: ignore[call-overload]
                                     func.max(Case.escalated_at), func.max(Case.closed_at))
                              .where(col(Case.brand_id) == brand_id, col(Case.expert_id).is_not(None),
                                     col(Case.status).in_(FINISHED))).one())


def history(session: Session, brand_id: int, limit: int = 20000) -> list[ResolvedCase]:
    """The brand's assigned cases as training data: resolved (and not rejected) or not, rating.

    Reads columns, not Case entities: building 20,000 entities (and parsing their JSON columns)
    was most of this load, which a process's first question for the brand waits for. The time a
    case finished is picked by the database (COALESCE), so one timestamp a row is turned into a
    datetime, not five (a background rebuild runs this load on the event loop)."""
    case, rating = _CASE.c, _RATING.c
    finished = sa.func.coalesce(case.resolved_at, case.escalated_at, case.closed_at, case.assigned_at,
                                case.created_at, type_=case.resolved_at.type)
    rows = session.connection().execute(
        sa.select(case.question, case.topic, case.expert_id, case.status, case.review_verdict,
                  case.escalated_at.is_not(None), rating.csat, finished)
        .join_from(_CASE, _RATING, rating.case_id == case.id, isouter=True)
        .where(case.brand_id == brand_id, case.expert_id.is_not(None), case.status.in_(FINISHED))
        .order_by(case.id.desc()).limit(limit)).all()
    out = []
    for question, topic, expert_id, status, verdict, escalated, csat, finished_at in rows:
        ok = status == CaseStatus.resolved and verdict != "reject"
        out.append(ResolvedCase(text=question, topics=[topic] if topic else [],
                                expert_id=expert_id, resolved=ok,
                                rating=None if escalated else csat,  # staff's, not theirs
                                at=_epoch(finished_at)))  # every case has one: the ranker's time features
    out.reverse()  # newest `limit` cases, oldest first: ExpertRanker.fit expects time order
    return out


def _epoch(when: datetime) -> float:
    """A stored time as epoch seconds (SQLite may hand back naive UTC)."""
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def _ranker_cache() -> RefreshingCache[list[ResolvedCase], ExpertRanker]:
    """An empty cache of expert rankers (one per app, in `RankingState`)."""
    return RefreshingCache(
        "expert ranker", _history_version, history, lambda cases: ExpertRanker().fit(cases), len,
        child_fit="matching:ExpertRanker", interim=lambda cases, n: cases[-n:],  # history is oldest first
        child_load=("gigcx.services.ranking:_history_version", "gigcx.services.ranking:history"))


STATS_TTL_S = 10.0


@dataclass
class RankingState:
    """Ranking's caches for one app (`app.extensions["gigcx_ranking"]`): rankers by brand id,
    expert statistics by expert id."""

    rankers: RefreshingCache[list[ResolvedCase], ExpertRanker] = field(default_factory=_ranker_cache)
    stats: TTLCache[int, tuple[float | None, int]] = field(
        default_factory=lambda: TTLCache(maxsize=100_000, ttl=STATS_TTL_S))
    stats_lock: threading.Lock = field(default_factory=threading.Lock)


def init_app(app: Any) -> None:
    """Give the app its own ranking caches (two apps in one process never share them)."""
    app.extensions["gigcx_ranking"] = RankingState()


def state(app: Any = None) -> RankingState:
    """The ranking caches of `app`, or of the current app."""
    return (app or current_app).extensions["gigcx_ranking"]


def ranker_for(session: Session, brand_id: int) -> ExpertRanker:
    """The brand's ranker: refitted inline while its history is small, in the background after
    (until the first background fit lands, a large history is ranked by a stand-in fitted on its
    newest cases)."""
    return state().rankers.get(session, brand_id)


def expert_stats(session: Session, expert_ids: list[int], recent: int = 50) -> dict[int, tuple[float | None, int]]:
    """Per expert: median seconds from assignment to first response over their recent cases
    (None without history) and how many cases they resolved (all brands).

    Kept per process for STATS_TTL_S: the query reads up to `recent` cases per candidate, and
    every ask ranks the whole online pool (at 1,000 open cases it was ~5 % of a busy server's
    core); a speed score ten seconds old routes as well as a fresh one."""
    caches = state()
    # the cache's clock stands still inside `with timer`: otherwise an entry can expire between
    # its `in` and its `[]` (a KeyError, and a failed ask, seen under load)
    with caches.stats_lock, caches.stats.timer:
        known = {e: caches.stats[e] for e in expert_ids if e in caches.stats}
    missing = [e for e in expert_ids if e not in known]
    if missing:
        fresh = _query_stats(session, missing, recent)
        with caches.stats_lock:
            caches.stats.update(fresh)
        known.update(fresh)
    return known


def _wait_s(dialect: str) -> Any:
    """Seconds from assignment to first response, computed by the database (converting two
    timestamps per row in Python was half the cost)."""
    c = _CASE.c
    if dialect == "postgresql":
        return sa.func.extract("epoch", c.first_response_at - c.assigned_at)
    return (sa.func.julianday(c.first_response_at) - sa.func.julianday(c.assigned_at)) * 86400.0  # ISO text


def _recent_waits(dialect: str) -> Any:
    """(expert, wait) of each expert's newest `b_recent` answered cases, read through the index
    (expert_id, id): at most `b_recent` rows per expert, however long their history. (One IN-list
    query over the pool ordered by id read every past case of the pool: 130 ms for 100 experts
    with 20,000 past cases on SQLite, every STATS_TTL_S.)

    PostgreSQL: one statement, a LATERAL subquery per expert id. SQLite has no LATERAL (and a
    UNION ALL of per-expert branches was no faster): one statement per expert, `b_expert`."""
    c = _CASE.c
    answered = (c.first_response_at.is_not(None), c.assigned_at.is_not(None))
    if dialect != "postgresql":
        return (sa.select(c.expert_id, _wait_s(dialect)).where(c.expert_id == sa.bindparam("b_expert"), *answered)
                .order_by(c.id.desc()).limit(sa.bindparam("b_recent")))
    from sqlalchemy.dialects.postgresql import ARRAY

    ids = sa.func.unnest(sa.bindparam("b_experts", type_=ARRAY(sa.Integer))).table_valued("id").render_derived(name="e")
    waits = (sa.select(_wait_s(dialect).label("wait")).where(c.expert_id == ids.c.id, *answered)
             .order_by(c.id.desc()).limit(sa.bindparam("b_recent")).lateral("w"))
    return sa.select(ids.c.id, waits.c.wait).select_from(ids.join(waits, sa.true()))


_RECENT_WAITS = {d: _recent_waits(d) for d in ("postgresql", "sqlite")}


def _query_stats(session: Session, expert_ids: list[int], recent: int) -> dict[int, tuple[float | None, int]]:
    resolved = dict(session.exec(select(Case.expert_id, func.count()).where(
        col(Case.expert_id).in_(expert_ids), col(Case.status) == CaseStatus.resolved).group_by(col(Case.expert_id))).all())
    conn = session.connection()
    waits: dict[int, list[float]] = {e: [] for e in expert_ids}
    if conn.dialect.name == "postgresql":
        rows: Any = conn.execute(_RECENT_WAITS["postgresql"], {"b_experts": expert_ids, "b_recent": recent})
    else:
        rows = (r for e in expert_ids for r in conn.execute(_RECENT_WAITS["sqlite"], {"b_expert": e, "b_recent": recent}))
    for eid, wait in rows:
        waits[eid].append(max(float(wait), 0.0))
    return {e: (statistics.median(waits[e]) if waits[e] else None, int(resolved.get(e, 0)))
            for e in expert_ids}


def choose(session: Session, brand: Brand, case: Case, pool: list[Available]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rank the available experts with the brand's ranker and pick `offer_fanout` of them with
    the pure policy in `matching.dispatch` (expertise, spare capacity, response speed, a small
    exploration share for new experts); the decision records why."""
    decision: dict[str, Any] = {"policy": "matching.dispatch", "available": len(pool),
                                "pool": case.topic if pool and all(case.topic in a.topics for a in pool) else "general"}
    if not pool:
        decision["reason"] = "no approved expert for this topic and language is online with spare capacity"
        return [], decision
    assert brand.id is not None  # a stored row
    ranked = dict(ranker_for(session, brand.id).rank(case.question, [case.topic] if case.topic else [],
                                                      candidates=[a.expert_id for a in pool],
                                                      at=_epoch(case.created_at)))
    stats = expert_stats(session, [a.expert_id for a in pool])
    # experts under the brand's quality threshold in this topic get fewer offers (docs/trust.md)
    factors = quality_factors(session, brand, case.topic, [a.expert_id for a in pool])
    if factors:
        decision["quality_penalty"] = {str(k): round(v, 4) for k, v in factors.items()}
    candidates = [Candidate(a.expert_id, expertise=_demote(ranked.get(a.expert_id, 0.0), factors.get(a.expert_id)),
                            load=a.load,
                            max_cases=a.max_cases, languages=a.languages, topics=a.topics,
                            median_response_s=stats[a.expert_id][0], resolved_count=stats[a.expert_id][1])
                  for a in pool]
    # language and capacity were already checked by presence; the policy re-checks capacity.
    result = policy.choose(candidates, fanout=max(brand.offer_fanout, 1), rng=case.id)
    decision.update({"ranked": result.ranked, "filtered": {str(k): v for k, v in result.filtered.items()},
                     "explored": result.explored, "eligible": result.eligible})
    return result.chosen, decision


def quality_factors(session: Session, brand: Brand, topic: str | None, expert_ids: list[int]) -> dict[int, float]:
    """Expertise multipliers (< 1) of the experts whose quality in the topic is under the brand's threshold."""
    from gigcx.services import trust
    from payouts.trust import dispatch_factor

    threshold = trust.settings_for(brand).quality_threshold
    if threshold <= 0:
        return {}
    assert brand.id is not None  # a stored row
    scores = trust.quality_scores(session, brand.id, topic, expert_ids)
    return {e: dispatch_factor(q, threshold) for e, q in scores.items() if q < threshold}


def _demote(expertise: float, factor: float | None) -> float:
    """Scale a ranker score down by a quality factor (scores may be negative: move them further down)."""
    if factor is None:
        return expertise
    return expertise * factor if expertise >= 0 else expertise / factor
