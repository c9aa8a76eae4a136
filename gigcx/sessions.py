"""Live sessions end with their credential: a revoked token, a rotated brand key, a removed staff
member or a suspended expert loses their open sockets on every process, at once.

Every authenticated connection joins a room named after its credential (`token:<id>` for expert
and staff tokens, `key:<id>` for brand API keys; experts are also in `expert:<id>`). Ending a
credential, after its change is committed:

1. marks it invalid in this process's credential cache, so anything its sockets send is refused;
2. disconnects this process's sockets in the credential's rooms;
3. publishes the room names on `<GIGCX_REDIS_CHANNEL>:sessions` when the service is scaled out:
   every other process does 1 and 2 for its own sockets (`listen`, a background task).

Events are also checked one by one (`credential_ok`) against a per-process cache trusted for at
most `GIGCX_CREDENTIAL_CACHE_S` (1 s), so a lost signal (a Redis outage) still stops a session
within that time. The cache is kept fresh by a sweep (`sweep`) that re-reads the credentials of
all this process's sockets in one statement every half of that interval (or every
`GIGCX_SESSION_SWEEP_S`, if shorter) and ends sessions whose credential died without a signal,
silent ones included. Events thus read the database only for a credential the sweep has not seen
yet (a new socket) or when the sweep falls behind: a read per event was 13 % of a serving
process's CPU at 200 messages/s on PostgreSQL (docs/benchmarks.md).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)
HOST_ID = uuid.uuid4().hex  # tells this process's own signals apart on the shared channel



def _cache(app: Flask | None = None) -> dict[str, tuple[bool, float]]:
    """credential -> (still valid, monotonic time it was read), per app (ids are per database)."""
    return (app or current_app).extensions.setdefault("gigcx_credentials", {})


def token_credential(token_id: int) -> str:
    return f"token:{token_id}"


def key_credential(key_id: int) -> str:
    return f"key:{key_id}"


def _ttl() -> float:
    return float(current_app.config["GIGCX"].credential_cache_s)


def credential_ok(credential: str) -> bool:
    """Whether the credential still stands (read from the database at most every cache interval)."""
    now, cache = time.monotonic(), _cache()
    entry = cache.get(credential)
    if entry is not None and now - entry[1] < _ttl():
        return entry[0]
    valid = _read([credential]).get(credential, False)
    cache[credential] = (valid, now)
    return valid


def _read(credentials: Iterable[str]) -> dict[str, bool]:
    """Whether each credential is still valid, from the database (two statements at most)."""
    from sqlmodel import col, select

    from gigcx.db import session_scope
    from gigcx.models import AuthToken, BrandApiKey, StaffUser

    tokens: set[int] = set()
    keys: set[int] = set()
    for cred in credentials:
        kind, _, raw = cred.partition(":")
        if kind == "token":
            tokens.add(int(raw))
        elif kind == "key":
            keys.add(int(raw))
    out: dict[str, bool] = {}
    with session_scope() as session:
        if tokens:
            rows = session.exec(select(AuthToken.id, AuthToken.revoked_at, AuthToken.kind, StaffUser.id)
                                .join(StaffUser, col(StaffUser.id) == AuthToken.subject_id, isouter=True)
                                .where(col(AuthToken.id).in_(tokens))).all()
            for token_id, revoked_at, kind, staff_id in rows:
                valid = revoked_at is None and (kind != "staff" or staff_id is not None)
                out[token_credential(token_id)] = valid  # type: ignore[arg-type]  # a primary key, never NULL
        if keys:
            for key_id, revoked_at in session.exec(select(BrandApiKey.id, BrandApiKey.revoked_at)
                                                   .where(col(BrandApiKey.id).in_(keys))).all():
                out[key_credential(key_id)] = revoked_at is None  # type: ignore[arg-type]  # a primary key
    return out


def end(rooms: list[str], reason: str) -> None:
    """Disconnect every socket in these rooms on every process (call after the commit)."""
    if not rooms:
        return
    now, cache = time.monotonic(), _cache()
    for room in rooms:
        if room.startswith(("token:", "key:")):
            cache[room] = (False, now)
    from gigcx.extensions import socketio

    # in a task of its own: the disconnect handlers use the database, which the caller's request
    # may still hold (SQLite has one connection per process)
    socketio.start_background_task(end_local, rooms, reason)
    settings = current_app.config["GIGCX"]
    if settings.redis_url:
        try:
            _redis(settings.redis_url).publish(channel(settings.redis_channel),
                                               json.dumps({"host": HOST_ID, "rooms": rooms, "reason": reason}))
        except Exception:  # noqa: BLE001 - the sweep and the per-event check still end the sessions
            log.exception("could not publish the end of sessions %s; the sweep will catch them", rooms)


def channel(base: str) -> str:
    """The Redis channel of session signals."""
    return f"{base}:sessions"


_redis_clients: dict[str, Any] = {}


def _redis(url: str) -> Any:
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=5)
    return client


def end_local(rooms: list[str], reason: str) -> None:
    """Tell this process's sockets in the rooms why (`session_ended {reason}`), then disconnect them."""
    from gigcx.extensions import socketio

    server = socketio.server
    if server is None:  # Socket.IO not bound (a CLI command): no sockets here
        return
    for namespace in {ns.namespace for ns in NAMESPACES}:
        sids = {sid for sid, _ in server.manager.get_participants(namespace, rooms)}
        for sid in sids:
            forget(namespace, sid)
            try:
                server.emit("session_ended", {"reason": reason}, to=sid, namespace=namespace, ignore_queue=True)
                server.disconnect(sid, namespace=namespace, ignore_queue=True)
            except Exception:  # noqa: BLE001 - already gone: nothing left to end
                log.debug("socket %s already gone", sid)


class Connections(Protocol):
    """What a Socket.IO namespace of the app keeps about its connections (gigcx.realtime)."""

    namespace: str
    actors: dict[str, Any]  # sid -> who acts
    credentials: dict[str, str]  # sid -> credential


#: the app's namespaces, registered by themselves (this module sits below the Socket.IO edge)
NAMESPACES: list[Connections] = []


def register(connections: Connections) -> None:
    """Let session ends reach a namespace's connections."""
    if connections not in NAMESPACES:
        NAMESPACES.append(connections)


def forget(namespace: str, sid: str) -> None:
    """Stop acting for this connection at once (its disconnect may still be on its way)."""
    for ns in NAMESPACES:
        if ns.namespace == namespace:
            ns.actors.pop(sid, None)


def listen(app: Flask) -> None:
    """Apply other processes' signals to this process's sockets (a background task, scaled out)."""
    settings = app.config["GIGCX"]
    while True:
        try:
            import redis

            # no read timeout: a quiet channel is normal; health checks notice a dead connection
            client = redis.Redis.from_url(settings.redis_url, health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(channel(settings.redis_channel))
            for message in pubsub.listen():
                try:
                    data = json.loads(message["data"])
                    if data.get("host") == HOST_ID:
                        continue
                    with app.app_context():
                        now, cache = time.monotonic(), _cache(app)
                        for room in data["rooms"]:
                            if room.startswith(("token:", "key:")):
                                cache[room] = (False, now)
                        end_local(list(data["rooms"]), str(data.get("reason", "")))
                except Exception:  # noqa: BLE001 - one bad signal must not stop the listener
                    log.exception("bad session signal %r", message)
        except Exception:  # noqa: BLE001 - Redis restarts: subscribe again
            log.exception("session signal listener failed; resubscribing")
        time.sleep(1)


def sweep_interval(settings: Any) -> float:
    """Seconds between sweeps: at most half the cache's trust, so held credentials stay fresh."""
    ttl = float(settings.credential_cache_s)
    every = float(settings.session_sweep_s)
    return max(min(every, ttl / 2) if ttl > 0 else every, 0.05)


def sweep(app: Flask) -> None:
    """End this process's sockets whose credential died without a signal; prune the cache."""
    now, cache = time.monotonic(), _cache(app)
    ttl = float(app.config["GIGCX"].credential_cache_s)
    for cred, (_, at) in list(cache.items()):
        if now - at > max(ttl, 1.0) * 10:
            cache.pop(cred, None)
    held: dict[str, list[tuple[str, str]]] = {}
    for ns in NAMESPACES:
        for sid, cred in list(ns.credentials.items()):
            if sid in ns.actors:
                held.setdefault(cred, []).append((ns.namespace, sid))
    if not held:
        return
    valid = _read(held)
    dead = [cred for cred in held if not valid.get(cred, False)]
    for cred in held:
        cache[cred] = (valid.get(cred, False), now)
    if dead:
        log.info("ending sessions of %d revoked credentials", len(dead))
        end_local(dead, "revoked")
