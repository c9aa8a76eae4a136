"""Who is online: availability chosen by experts, and live connections kept fresh by heartbeats.
Both live in the database, so every process sees the same presence."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, delete, func, update
from sqlmodel import Session, col, select

from gigcx.models import (
    BUSY_STATUSES,
    Case,
    Expert,
    ExpertConnection,
    ExpertPresence,
    ExpertProgram,
    Offer,
    OfferStatus,
    ProgramStatus,
    utcnow,
)


@dataclass
class Available:
    """An expert who could take a case now, with what routing needs to know."""

    expert_id: int
    display_name: str
    languages: list[str]
    topics: list[str]
    load: int
    max_cases: int
    created_at: object = None
    extra: dict[str, float] = field(default_factory=dict)


def _ttl() -> timedelta:
    return timedelta(seconds=current_app.config["GIGCX"].presence_ttl_s)


def connect(session: Session, expert_id: int, sid: str, process_id: str) -> None:
    """Record a new live connection of the expert."""
    session.merge(ExpertConnection(sid=sid, expert_id=expert_id, process_id=process_id, last_seen=utcnow()))


def disconnect(session: Session, sid: str) -> None:
    """Forget a closed connection."""
    session.execute(delete(ExpertConnection).where(col(ExpertConnection.sid) == sid))


def heartbeat(session: Session, process_id: str) -> None:
    """Refresh this process' connections and drop those of processes that stopped beating."""
    now = utcnow()
    session.execute(update(ExpertConnection).where(col(ExpertConnection.process_id) == process_id)
                    .values(last_seen=now))
    session.execute(delete(ExpertConnection).where(col(ExpertConnection.last_seen) < now - 3 * _ttl()))


def set_availability(session: Session, expert_id: int, online: bool, max_cases: int | None) -> ExpertPresence:
    """The expert goes online or offline (and may change how many cases they take at once)."""
    row = session.get(ExpertPresence, expert_id)
    if row is None:
        expert = session.get(Expert, expert_id)
        row = ExpertPresence(expert_id=expert_id, max_cases=expert.max_cases if expert else 3)
    row.online = online
    if max_cases is not None:
        row.max_cases = max_cases
    row.updated_at = utcnow()
    session.add(row)
    return row


def _bases(spoken: list[str]) -> frozenset[str]:
    """The base languages an expert speaks ("pt-BR" -> "pt"); English when none is set."""
    return frozenset(lang.split("-")[0].lower() for lang in spoken) if spoken else frozenset({"en"})


_Profile = tuple[str, list[str], frozenset[str], list[str], object]  # name, languages, their bases, topics, joined


@dataclass
class _Profiles:
    """What rarely changes about a brand's approved experts, read at most every ROSTER_CACHE_S."""

    read_at: float
    by_id: dict[int, _Profile]


def init_app(app: Any) -> None:
    """Give the app its own roster cache, by brand id (two apps in one process never share it);
    each brand's entry is replaced whole, so readers never see a partial one."""
    app.extensions["gigcx_presence"] = {}


def _profiles() -> dict[int, _Profiles]:
    return current_app.extensions["gigcx_presence"]


def _brand_profiles(session: Session, brand_id: int, need: set[int]) -> dict[int, _Profile]:
    """Names, languages, approved topics and join dates of the brand's experts, cached per process
    for GIGCX_ROSTER_CACHE_S (re-read at once when an expert is not in the cache yet)."""
    now = time.monotonic()
    cached = _profiles().get(brand_id)
    max_age = current_app.config["GIGCX"].roster_cache_s
    if cached is not None and now - cached.read_at < max_age and need <= cached.by_id.keys():
        return cached.by_id
    rows = session.execute(  # sqlmodel's select() is typed for at most four columns:
        select(Expert.id, Expert.display_name, Expert.languages, ExpertProgram.topics,  # type: ignore[call-overload]
               Expert.created_at)
        .join(ExpertProgram, ExpertProgram.expert_id == Expert.id)
        .where(ExpertProgram.brand_id == brand_id, ExpertProgram.status == ProgramStatus.approved)).all()
    by_id = {r[0]: (r[1], list(r[2]), _bases(r[2]), list(r[3]), r[4]) for r in rows}
    _profiles()[brand_id] = _Profiles(now, by_id)
    return by_id


def brand_roster(session: Session, brand_id: int) -> dict[int, list[str]]:
    """Every approved expert of the brand with their approved topics (from the roster cache)."""
    return {eid: list(p[3]) for eid, p in _brand_profiles(session, brand_id, set()).items()}


def _online_with_load() -> Any:
    """The statement of `available_experts`, built once (every ask runs it): (expert id, case cap,
    open cases + open offers) of the brand's approved experts who are online with a connection
    seen since `b_fresh`."""
    load = (select(func.count()).select_from(Case).where(Case.expert_id == ExpertPresence.expert_id,
                                                          col(Case.status).in_(BUSY_STATUSES))
            .scalar_subquery()
            + select(func.count()).select_from(Offer).where(Offer.expert_id == ExpertPresence.expert_id,
                                                             Offer.status == OfferStatus.open).scalar_subquery())
    return (select(ExpertPresence.expert_id, ExpertPresence.max_cases, load)
            .join(ExpertProgram, col(ExpertProgram.expert_id) == ExpertPresence.expert_id)
            .where(ExpertProgram.brand_id == bindparam("b_brand"), ExpertProgram.status == ProgramStatus.approved,
                   col(ExpertPresence.online).is_(True),
                   select(ExpertConnection.sid).where(ExpertConnection.expert_id == ExpertPresence.expert_id,
                                                      ExpertConnection.last_seen >= bindparam("b_fresh")).exists()))


_ONLINE_WITH_LOAD = _online_with_load()


def available_experts(session: Session, brand_id: int, topic: str | None, language: str) -> list[Available]:
    """Approved experts of the brand for the topic (any topic when None), online with a live
    connection, under their case cap, speaking the customer's language.

    Who is online and how loaded is read fresh on every call, in one statement of plain
    integers; names, languages and approved topics come from a short per-process cache
    (`_brand_profiles`): building them from JSON columns for 100 experts was most of an ask."""
    rows = session.connection().execute(_ONLINE_WITH_LOAD, {"b_brand": brand_id, "b_fresh": utcnow() - _ttl()}).all()
    if not rows:
        return []
    profiles = _brand_profiles(session, brand_id, {r[0] for r in rows})
    wanted = language.split("-")[0].lower()
    out = []
    for expert_id, max_cases, current in rows:
        profile = profiles.get(expert_id)
        if profile is None or current >= max_cases:
            continue
        display_name, languages, bases, topics, created_at = profile
        if topic is not None and topic not in topics:
            continue
        if wanted not in bases:
            continue
        out.append(Available(expert_id, display_name, languages, list(topics), current, max_cases, created_at))
    return out


def brands_of(session: Session, expert_id: int) -> list[int]:
    """Brands whose program the expert is approved in."""
    return list(session.exec(select(ExpertProgram.brand_id).where(
        ExpertProgram.expert_id == expert_id, ExpertProgram.status == ProgramStatus.approved)))
