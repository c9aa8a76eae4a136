"""Fraud and quality controls on rewards (docs/trust.md): known customers, connection records,
signals at resolution and rating, QA sampling, quality scores, and the brand's decisions.

The scoring itself is pure (`payouts.trust`); this module gathers the facts from the database
and records the outcome. Its one effect on money: a held case's reward stays pending, whatever
its review window says, until the brand releases or rejects it (`is_held`, asked by
`earnings.release_case`).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Integer, Row, any_, bindparam, exists, func, insert, or_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, col, select

import payouts
from gigcx.models import (
    Brand,
    Case,
    CaseStatus,
    ClientSeen,
    Customer,
    Expert,
    ExpertProgram,
    ExpertQuality,
    HoldState,
    Message,
    Rating,
    Sender,
    TopicRatings,
    TrustDecision,
    TrustFlag,
    utcnow,
)
from gigcx.models.base import table_of
from payouts import trust as scoring

DEFAULT_NORM = 0.75  # a topic without ratings yet: as if its experts averaged 4 stars


# ---- settings and known customers ---------------------------------------------------------------

def settings_for(brand: Brand) -> scoring.TrustSettings:
    """The brand's trust settings (defaults for whatever it did not set)."""
    return scoring.TrustSettings.from_dict(brand.trust_settings or {})


def identity_secret(session: Session, brand: Brand, *, rotate: bool = False) -> str:
    """The brand's identity secret, made on first use; `rotate` replaces it (old hashes stop working)."""
    if brand.identity_secret is None or rotate:
        brand.identity_secret = "gcxi_" + secrets.token_hex(24)
        session.add(brand)
        session.flush()
    return brand.identity_secret


def identity_hash(secret: str, user_id: str) -> str:
    """HMAC-SHA256 of the user id with the brand's secret, as lowercase hex (what brands compute)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_identity(brand: Brand, user_id: str, user_hash: str) -> bool:
    """Whether the hash proves the brand vouches for this user id."""
    if not brand.identity_secret:
        return False
    return hmac.compare_digest(identity_hash(brand.identity_secret, user_id), user_hash.strip().lower())


def known_customer(session: Session, brand_id: int, user_id: str, current: Customer | None) -> Customer:
    """The brand's customer with this verified user id: the existing one (any device), else the
    current anonymous customer adopting it, else a new one (caller sets its token)."""
    found = session.exec(select(Customer).where(Customer.brand_id == brand_id,
                                                Customer.external_id == user_id)).first()
    if found is not None:
        return found
    if current is not None and current.external_id is None:
        current.external_id = user_id
        session.add(current)
        return current
    return Customer(brand_id=brand_id, token_hash="", external_id=user_id)


def record_client(session: Session, role: str, subject_id: int, ip: str | None, user_agent: str | None) -> None:
    """Remember that this customer or expert connected from this address and user agent."""
    ip, ua = (ip or "")[:64], (user_agent or "")[:300]
    now = utcnow()
    row = session.exec(select(ClientSeen).where(ClientSeen.role == role, ClientSeen.subject_id == subject_id,
                                                ClientSeen.ip == ip, ClientSeen.user_agent == ua)).first()
    if row is None:
        session.add(ClientSeen(role=role, subject_id=subject_id, ip=ip, user_agent=ua, first_seen=now, last_seen=now))
    else:
        row.last_seen = now
        session.add(row)


def _informative(ip: str) -> bool:
    """Loopback and unknown addresses say nothing about who connected (a proxy not configured
    with GIGCX_TRUSTED_PROXIES, or a local client): they never match."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified)


# ---- facts and assessment at resolution -----------------------------------------------------------

_CASE, _CUSTOMER, _EXPERT, _PROGRAM = table_of(Case), table_of(Customer), table_of(Expert), table_of(ExpertProgram)
_SEEN, _MSG, _QUALITY, _FLAG = table_of(ClientSeen), table_of(Message), table_of(ExpertQuality), table_of(TrustFlag)
_OTHER = _EXPERT.alias("other_expert")


def _facts_statement(sample: bool) -> Any:
    """Every fact of `facts_for` that is one value, the QA stratum's count (`sample`) and whether
    the case has a flag already: one statement on the case's row where there were nine reads."""
    b_brand: BindParameter[int] = bindparam("b_brand")
    b_customer: BindParameter[int] = bindparam("b_customer")
    b_expert: BindParameter[int] = bindparam("b_expert")
    payout_account = select(_EXPERT.c.stripe_account_id).where(_EXPERT.c.id == b_expert).scalar_subquery()
    cols = [
        select(_CUSTOMER.c.external_id).where(_CUSTOMER.c.id == b_customer).scalar_subquery().label("customer_external"),
        select(_PROGRAM.c.external_user_id).where(_PROGRAM.c.expert_id == b_expert, _PROGRAM.c.brand_id == b_brand)
        .limit(1).scalar_subquery().label("program_external"),
        exists().where(_OTHER.c.stripe_account_id == payout_account, _OTHER.c.stripe_account_id != "",
                       _OTHER.c.id != b_expert).label("shared"),
        select(func.count()).select_from(_CASE).where(
            _CASE.c.brand_id == b_brand, _CASE.c.customer_id == b_customer, _CASE.c.expert_id == b_expert,
            _CASE.c.status == CaseStatus.resolved, _CASE.c.resolved_at >= bindparam("b_pairs_since"))
        .scalar_subquery().label("pairs"),
        select(func.aggregate_strings(_MSG.c.text, " ")).where(
            _MSG.c.case_id == bindparam("b_case"), _MSG.c.sender == Sender.expert).scalar_subquery().label("texts"),
        select(_QUALITY.c.score).where(_QUALITY.c.brand_id == b_brand, _QUALITY.c.expert_id == b_expert,
                                       _QUALITY.c.topic == bindparam("b_topic")).limit(1).scalar_subquery().label("quality"),
        _FLAG.c.id.label("flag_id"),
    ]
    if sample:
        cols.append(select(func.count()).select_from(_CASE).where(
            _CASE.c.brand_id == b_brand, _CASE.c.expert_id == b_expert,
            _CASE.c.topic.is_not_distinct_from(bindparam("b_sample_topic")), _CASE.c.status == CaseStatus.resolved)
            .scalar_subquery().label("stratum_resolved"))
    return (select(*cols).select_from(_CASE.outerjoin(_FLAG, _FLAG.c.case_id == _CASE.c.id))
            .where(_CASE.c.id == bindparam("b_case")))


_FACTS = {False: _facts_statement(False), True: _facts_statement(True)}
# the addresses both parties connected from lately (one statement for the two of them)
_SEEN_BY = (select(_SEEN.c.role, _SEEN.c.ip, _SEEN.c.user_agent)
            .where(or_((_SEEN.c.role == "customer") & (_SEEN.c.subject_id == bindparam("b_customer")),
                       (_SEEN.c.role == "expert") & (_SEEN.c.subject_id == bindparam("b_expert"))),
                   _SEEN.c.last_seen >= bindparam("b_since")))
_INSERT_FLAG = insert(_FLAG)


def _gather(session: Session, case: Case, settings: scoring.TrustSettings, *,
            sample: bool) -> tuple[scoring.CaseFacts, Row[Any]]:
    """The case's facts and the row they were read from (`stratum_resolved` when `sample`, and
    `flag_id`). Three statements: the single values, the addresses seen, nothing else.

    The session is flushed first, as the ORM reads this replaces did (autoflush): the case's own
    pending resolution counts in `pairs` and in the QA stratum."""
    assert case.expert_id is not None
    session.flush()
    now = utcnow()
    conn = session.connection()
    keys = {"b_case": case.id, "b_brand": case.brand_id, "b_customer": case.customer_id,
            "b_expert": case.expert_id, "b_topic": case.topic or None, "b_sample_topic": case.topic,
            "b_pairs_since": now - timedelta(days=settings.repeat_window_days)}
    row = conn.execute(_FACTS[sample], keys).one()
    theirs: set[tuple[str, str]] = set()
    mine: set[tuple[str, str]] = set()
    for role, ip, ua in conn.execute(_SEEN_BY, {**keys, "b_since": now - timedelta(days=90)}):
        if _informative(ip):
            (theirs if role == "customer" else mine).add((ip, ua))
    own = bool(row.customer_external and row.program_external and row.customer_external == row.program_external)
    cycle = None
    if case.resolved_by == "customer" and case.assigned_at is not None and case.resolved_at is not None:
        cycle = max(0.0, (_aware(case.resolved_at) - _aware(case.assigned_at)).total_seconds())
    facts = scoring.CaseFacts(
        own_account=own, same_device=bool(theirs & mine),
        same_network=bool({ip for ip, _ in theirs} & {ip for ip, _ in mine}),
        shared_payout_account=bool(row.shared), cycle_seconds=cycle, pair_count=int(row.pairs),
        confirmed_by_silence=case.resolved_by == "silence",
        # the expert's messages joined by spaces (in any order: letters and distinct words do not
        # depend on it)
        substantive_answer=scoring.is_substantive([row.texts] if row.texts is not None else [],
                                                  settings.substantive_min_chars, settings.substantive_min_words),
        quality=row.quality)
    return facts, row


def facts_for(session: Session, case: Case, settings: scoring.TrustSettings) -> scoring.CaseFacts:
    """Everything the signals look at, for a resolved case with an expert."""
    return _gather(session, case, settings, sample=False)[0]


def _aware(dt: Any) -> Any:
    from datetime import UTC

    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _flag(session: Session, case_id: int, *, lock: bool = False) -> TrustFlag | None:
    q = select(TrustFlag).where(TrustFlag.case_id == case_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.exec(q).first()


def _audit(session: Session, flag: TrustFlag, action: str, actor: str, note: str) -> None:
    session.add(TrustDecision(brand_id=flag.brand_id, case_id=flag.case_id, action=action, actor=actor,
                              note=note[:4000]))


def _apply(session: Session, flag: TrustFlag, assessment: scoring.Assessment) -> None:
    """Store the signals; a case not yet decided by the brand is held when the score says so."""
    flag.signals = [s.to_dict() for s in assessment.signals]
    flag.score = assessment.score
    flag.updated_at = utcnow()
    if assessment.hold and flag.hold_state is None:
        flag.hold_state = HoldState.held
        _audit(session, flag, "hold", "system", "; ".join(assessment.reasons))
    session.add(flag)


def on_credit(session: Session, case: Case) -> None:
    """At resolution, right after the reward is credited: raise signals, hold the reward when they
    add up, and draw the case into the brand's QA sample. Runs in the caller's transaction."""
    if case.expert_id is None:
        return
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    settings = settings_for(brand)
    facts, row = _gather(session, case, settings, sample=settings.qa_sample_rate > 0)
    assessment = scoring.assess(facts, settings)
    sample = _draw_sample(brand, case, settings, row.stratum_resolved if settings.qa_sample_rate > 0 else 0)
    assert case.id is not None  # a stored row
    if row.flag_id is None:
        if not assessment.signals and not sample:
            return
        # a new flag, written as one Core row (an ORM TrustFlag cost more than the facts' reads)
        now = utcnow()
        held = HoldState.held if assessment.hold else None
        session.connection().execute(_INSERT_FLAG, {
            "case_id": case.id, "brand_id": case.brand_id, "expert_id": case.expert_id, "topic": case.topic,
            "signals": [s.to_dict() for s in assessment.signals], "score": assessment.score, "hold_state": held,
            "sampled": sample, "qa_verdict": None, "created_at": now, "updated_at": now, "decided_at": None})
        if held:
            session.add(TrustDecision(brand_id=case.brand_id, case_id=case.id, action="hold", actor="system",
                                      note="; ".join(assessment.reasons)[:4000]))
        return
    flag = _flag(session, case.id)
    assert flag is not None  # the row just read names it
    flag.sampled = flag.sampled or sample
    _apply(session, flag, assessment)


def _draw_sample(brand: Brand, case: Case, settings: scoring.TrustSettings, resolved: int) -> bool:
    """Stratified QA sampling: the n-th resolved case of an (expert, topic) is drawn when the
    stratum's systematic sample at the brand's rate says so (phase from a per-brand secret).
    `resolved` is n: the stratum's resolved cases, this one included."""
    if settings.qa_sample_rate <= 0:
        return False
    secret = brand.identity_secret or f"brand-{brand.id}-{brand.created_at}"
    return scoring.sampled(settings.qa_sample_rate, int(resolved),
                           scoring.stratum_offset(secret, "qa", case.expert_id, case.topic))


def is_held(session: Session, case_id: int) -> bool:
    """Whether the case's reward waits for the brand's decision."""
    state = session.exec(select(TrustFlag.hold_state).where(TrustFlag.case_id == case_id)).first()
    return state == HoldState.held


def holds_of(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    """Held cases among these, with their reasons (for the expert's earnings)."""
    if not case_ids:
        return {}
    rows = session.exec(select(TrustFlag.case_id, TrustFlag.signals).where(
        col(TrustFlag.case_id).in_(case_ids), col(TrustFlag.hold_state) == HoldState.held)).all()
    return {cid: [s["reason"] for s in sigs] for cid, sigs in rows}


# ---- ratings, rings and quality -------------------------------------------------------------------

def topic_norm(session: Session, brand_id: int, topic: str) -> float:
    """The brand's mean rating in the topic on the 0..1 scale (ratings of escalated cases and of
    cases without an expert left out), from the topic's running totals (`count_rating`): one row
    read, however many ratings the topic has.

    The mean is the value the database's `avg` over those ratings gives: PostgreSQL divides the
    sum by the count as numeric (what its `avg(integer)` does), SQLite as doubles."""
    conn = session.connection()
    params = {"b_brand": brand_id, "b_topic": topic}
    if conn.dialect.name == "postgresql":
        mean = conn.execute(_NORM_NUMERIC, params).scalar()
        return DEFAULT_NORM if mean is None else scoring.csat_value(float(mean))  # type: ignore[arg-type]
    totals = conn.execute(_NORM_TOTALS, params).first()
    return DEFAULT_NORM if totals is None else scoring.csat_value(float(totals[0]) / totals[1])


_TOPIC_RATINGS = table_of(TopicRatings)
_NORM_WHERE = (_TOPIC_RATINGS.c.brand_id == bindparam("b_brand"), _TOPIC_RATINGS.c.topic == bindparam("b_topic"),
               _TOPIC_RATINGS.c.ratings > 0)
_NORM_TOTALS = sa.select(_TOPIC_RATINGS.c.csat_sum, _TOPIC_RATINGS.c.ratings).where(*_NORM_WHERE)
_NORM_NUMERIC = sa.select(sa.cast(_TOPIC_RATINGS.c.csat_sum, sa.Numeric) / sa.cast(_TOPIC_RATINGS.c.ratings, sa.Numeric)
                          ).where(*_NORM_WHERE)


def count_rating(session: Session, brand_id: int, topic: str, csat: int) -> None:
    """Add a rating to its topic's running totals (`topic_norm`), in the rating's transaction: one
    atomic upsert, so concurrent ratings of a topic each add theirs."""
    conn = session.connection()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(_TOPIC_RATINGS).values(brand_id=brand_id, topic=topic, csat_sum=csat, ratings=1)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[_TOPIC_RATINGS.c.brand_id, _TOPIC_RATINGS.c.topic],
        set_={"csat_sum": _TOPIC_RATINGS.c.csat_sum + stmt.excluded.csat_sum,
              "ratings": _TOPIC_RATINGS.c.ratings + stmt.excluded.ratings}))


def recount_topic_ratings(session: Session, brand_id: int) -> None:
    """The brand's topic totals recomputed from all of its ratings (for writers that store ratings
    in bulk without `on_rating`; what migration 0013 did for the ratings before it)."""
    conn = session.connection()
    conn.execute(sa.delete(_TOPIC_RATINGS).where(_TOPIC_RATINGS.c.brand_id == brand_id))
    case, rating = table_of(Case), table_of(Rating)
    totals = (sa.select(case.c.brand_id, case.c.topic, sa.func.sum(rating.c.csat), sa.func.count())
              .join(case, case.c.id == rating.c.case_id)
              .where(case.c.brand_id == brand_id, case.c.topic.is_not(None), case.c.escalated_at.is_(None),
                     rating.c.expert_id.is_not(None))
              .group_by(case.c.brand_id, case.c.topic))
    conn.execute(sa.insert(_TOPIC_RATINGS).from_select(["brand_id", "topic", "csat_sum", "ratings"], totals))


def refresh_quality(session: Session, brand: Brand, expert_id: int, topic: str) -> ExpertQuality:
    """Recompute the expert's quality in the topic from ratings (weighted against rings) and reviews."""
    settings = settings_for(brand)
    assert brand.id is not None  # a stored row
    norm = topic_norm(session, brand.id, topic)
    # the expert's ratings in all of the brand's topics, oldest first, through the rating's expert
    # index (grouped in SQL, SQLite read the brand's whole case history for them instead)
    everywhere = session.connection().execute(_EXPERT_RATINGS, {"b_brand": brand.id, "b_expert": expert_id}).all()
    rated = [(who, csat) for who, in_topic, csat in everywhere if in_topic == topic]
    # how often each customer rated this expert in any of the brand's topics (rings spread out)
    repeats: dict[int, int] = {}
    for who, _, _ in everywhere:
        repeats[who] = repeats.get(who, 0) + 1
    ring = scoring.ring_suspected(list(rated), norm, settings, repeats)
    weights = scoring.rating_weights([who for who, _ in rated], ring)
    verdicts = session.exec(select(TrustFlag.qa_verdict, TrustFlag.hold_state).where(
        TrustFlag.brand_id == brand.id, TrustFlag.expert_id == expert_id, TrustFlag.topic == topic)).all()
    reviews = [v == "pass" for v, _ in verdicts if v is not None] + [False for _, h in verdicts if h == HoldState.rejected]
    score = scoring.quality_score([(scoring.csat_value(c), w) for (_, c), w in zip(rated, weights)], reviews,
                                  norm, settings.quality_prior_strength)
    row = session.exec(select(ExpertQuality).where(ExpertQuality.brand_id == brand.id,
                                                   ExpertQuality.expert_id == expert_id,
                                                   ExpertQuality.topic == topic)).first()
    if row is None:
        row = ExpertQuality(brand_id=brand.id, expert_id=expert_id, topic=topic, score=score)
    row.score, row.ratings, row.reviews, row.ring = score, round(sum(weights), 4), len(reviews), ring
    row.updated_at = utcnow()
    session.add(row)
    return row


_EXPERT_RATINGS = (sa.select(table_of(Case).c.customer_id, table_of(Case).c.topic, table_of(Rating).c.csat)
                   .join(table_of(Case), table_of(Case).c.id == table_of(Rating).c.case_id)
                   .where(table_of(Rating).c.expert_id == bindparam("b_expert"),
                          table_of(Case).c.brand_id == bindparam("b_brand"), table_of(Case).c.escalated_at.is_(None))
                   .order_by(table_of(Rating).c.id))


def on_rating(session: Session, case: Case) -> None:
    """After a rating is stored: update the expert's quality; a ring raises a signal on the case
    (and may hold its reward if the brand has not decided it yet). Escalated cases do not count."""
    if case.expert_id is None or case.topic is None or case.escalated_at is not None:
        return
    assert case.id is not None  # a stored row
    rating = session.exec(select(Rating.csat, Rating.expert_id).where(Rating.case_id == case.id)).first()
    if rating is not None and rating[1] is not None:
        count_rating(session, case.brand_id, case.topic, rating[0])
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    quality = refresh_quality(session, brand, case.expert_id, case.topic)
    if not quality.ring or case.status != CaseStatus.resolved:
        return
    flag = _flag(session, case.id, lock=True)
    if flag is None:
        flag = TrustFlag(case_id=case.id, brand_id=case.brand_id, expert_id=case.expert_id, topic=case.topic)
    settings = settings_for(brand)
    if any(s["code"] == "rating_ring" for s in flag.signals) or settings.weight("rating_ring") <= 0:
        return
    signals = [scoring.Signal(s["code"], s["weight"], s["reason"]) for s in flag.signals]
    signals.append(scoring.Signal("rating_ring", settings.weight("rating_ring"), scoring.SIGNAL_TEXT["rating_ring"]))
    assessment = scoring.score(signals, settings)
    if assessment.hold and _money_settled(session, case.id):
        assessment = scoring.Assessment(assessment.signals, assessment.score, False)
    _apply(session, flag, assessment)


def _money_settled(session: Session, case_id: int) -> bool:
    from gigcx.services import ledger

    return (ledger.get(session, payouts.release_key(case_id)) is not None
            or ledger.get(session, payouts.reverse_key(case_id)) is not None)


def quality_scores(session: Session, brand_id: int, topic: str | None, expert_ids: list[int]) -> dict[int, float]:
    """Quality of these experts in the topic (only those with a score)."""
    if topic is None or not expert_ids:
        return {}
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return dict(conn.execute(_QUALITY_ANY, {"b_brand": brand_id, "b_topic": topic, "b_experts": list(expert_ids)}).all())
    return dict(conn.execute(_QUALITY_JSON, {"b_brand": brand_id, "b_topic": topic,
                                             "b_experts": json.dumps(list(expert_ids))}).all())


def _quality_scores_statement(postgresql: bool) -> Any:
    """The statement of `quality_scores`, built once per dialect (every ask runs it).

    One parameter for the candidates, whatever their number: an IN list of the ~100 online
    candidates was a statement of 100 parameters to render and bind on every ask (16 % of an ask's
    server time on PostgreSQL, 5 % on SQLite), and its text changed with the pool's size, so
    psycopg never reused a prepared statement for it. PostgreSQL takes an array; SQLite a JSON
    array, its elements read with `json_each`."""
    q = select(ExpertQuality.expert_id, ExpertQuality.score).where(
        ExpertQuality.brand_id == bindparam("b_brand"), ExpertQuality.topic == bindparam("b_topic"))
    if postgresql:
        return q.where(col(ExpertQuality.expert_id) == any_(bindparam("b_experts", type_=ARRAY(Integer))))
    listed = select(func.json_each(bindparam("b_experts")).table_valued("value").c.value).scalar_subquery()
    return q.where(col(ExpertQuality.expert_id).in_(listed))


_QUALITY_ANY, _QUALITY_JSON = _quality_scores_statement(True), _quality_scores_statement(False)
