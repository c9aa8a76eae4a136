"""Per-brand models derived from data that keeps changing (the ranker, the suggestion index).

A small model is rebuilt inline as soon as its data changes (milliseconds, always fresh). A large
one keeps serving while a background task rebuilds it, at most once per `min_interval_s`, so a
busy brand's questions never wait for a refit. Loading runs on the event loop (it reads the
database).

A large history with no model yet (the first question after a process starts) never waits for
the full fit either: it is served at once by a stand-in fitted inline on `interim(data)`, the
newest `inline_below - 1` items, while the full model is built in the background. The caller is
usually inside a write transaction (an ask; SQLite's BEGIN IMMEDIATE holds the database's write
lock), so a fit of seconds there would stall every writer of every process.

That thread shares the interpreter lock with the event loop, so while it fits, every connection of
the process runs at about half speed, and a long C call inside the fit (sparse algebra) stops them
all: in a soak one ranker fit stalled the loop for seconds. Models named by `child_fit` (the
expert ranker, the suggestion index) are therefore rebuilt in a child process (`gigcx.fitworker`); the parent only
pickles the data and unpickles the model. Background rebuilds are also spaced by their own cost:
at least `COST_FACTOR` times the last build's duration apart (a 3 s ranker fit waits 5 minutes, a
50 ms index fit keeps the 10 s minimum), which bounds refitting to ~1 % of the process' time.

A cache with `child_load` (its version and load functions by name) has that child read the data
too: loading the ranker's 20,000 cases on the event loop took 0.1-0.4 s, during which the process'
other greenlets waited (on SQLite for its one pooled connection, and every writer of every process
for the write lock the read transaction had taken)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Flask, current_app
from sqlmodel import Session

from gigcx.concurrency import call_blocking, spawn

log = logging.getLogger(__name__)
D = TypeVar("D")
V = TypeVar("V")


COST_FACTOR = 100.0
INTERIM: tuple[Any, ...] = ("interim",)  # the version of a stand-in model: equal to no real version


@dataclass
class _Entry(Generic[V]):
    version: tuple[Any, ...]
    built_at: float
    size: int
    value: V
    build_s: float = 0.0  # how long building it took (a child's start and reading included)

    def due(self, now: float, min_interval_s: float) -> bool:
        """Whether a background rebuild may start now."""
        return now - self.built_at >= max(min_interval_s, COST_FACTOR * self.build_s)


class RefreshingCache(Generic[D, V]):
    """`get(session, key)` returns a model for `key`, rebuilt when `version(session, key)` changes."""

    def __init__(self, name: str, version: Callable[[Session, int], tuple[Any, ...]],
                 load: Callable[[Session, int], D], fit: Callable[[D], V], size: Callable[[D], int],
                 inline_below: int = 100, min_interval_s: float = 30.0, child_fit: str | None = None,
                 interim: Callable[[D, int], D] | None = None, child_load: tuple[str, str] | None = None):
        self.name, self.version, self.load, self.fit, self.size = name, version, load, fit, size
        # the newest `n` items of the data, for the stand-in model (None: no stand-in, fit inline)
        self.interim = interim
        self.inline_below, self.min_interval_s = inline_below, min_interval_s
        self.child_fit = child_fit  # "module:Estimator": background rebuilds fit in a child process
        # ("module:version", "module:load"), the same functions as `version` and `load` (and `size`
        # is `len`): with `child_fit`, that child reads the data itself
        self.child_load = child_load
        self.entries: dict[int, _Entry[V]] = {}
        self.building: set[int] = set()
        self.checked: dict[int, float] = {}

    def get(self, session: Session, key: int) -> V:
        """The current model (building it now if there is none or it is small and stale).

        The version query (an aggregate over the brand's finished cases) runs at most once per
        `GIGCX_MODEL_CHECK_S` per brand: it was two of an ask's statements and grows with history.
        A large model is only rebuilt in the background once due, so until then its version is not
        read at all (at 20,000 past cases the two caches' queries took 60 ms a second on SQLite)."""
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is not None and now - self.checked.get(key, float("-inf")) < current_app.config["GIGCX"].model_check_s:
            return entry.value
        if entry is not None and entry.size >= self.inline_below and (
                key in self.building or not entry.due(now, self.min_interval_s)):
            return entry.value  # nothing would be rebuilt now, whatever the version says
        version = self.version(session, key)
        self.checked[key] = now
        if entry is not None and entry.version == version:
            return entry.value
        if entry is None or entry.size < self.inline_below:
            return self._build(session, key, version).value
        if key not in self.building and entry.due(now, self.min_interval_s):
            self._start_rebuild(key)
        return entry.value

    def _start_rebuild(self, key: int) -> None:
        self.building.add(key)
        spawn(self._rebuild, current_app._get_current_object(), key)  # type: ignore[attr-defined]

    def _build(self, session: Session, key: int, version: tuple[Any, ...]) -> _Entry[V]:
        """Fit inline when the data is small; otherwise (with `interim`) fit a stand-in on its
        newest items and start the full build in the background."""
        data = self.load(session, key)
        size = self.size(data)
        stand_in = size >= self.inline_below and self.interim is not None
        if stand_in:
            assert self.interim is not None
            data = self.interim(data, self.inline_below - 1)
        start = time.monotonic()
        value = self.fit(data) if self.size(data) < self.inline_below else call_blocking(self.fit, data)
        done = time.monotonic()
        # a stand-in's version matches nothing, so it is replaced as soon as the full model lands
        entry = _Entry(INTERIM if stand_in else version, done, size, value, done - start)
        self.entries[key] = entry
        if stand_in and key not in self.building:
            log.info("serving %s of brand %s from its newest %s items while the full model (%s) builds",
                     self.name, key, self.inline_below - 1, size)
            self._start_rebuild(key)
        return entry

    def _rebuild(self, app: Flask, key: int) -> None:
        from gigcx.db import session_scope

        try:
            with app.app_context():
                database_url = app.config["GIGCX"].database_url
                if self.child_fit is not None and self.child_load is not None:
                    from gigcx.fitworker import Source, can_read, load_and_fit_in_child

                    if can_read(database_url):
                        start = time.monotonic()
                        fitted = load_and_fit_in_child(self.child_fit, Source(database_url, *self.child_load, key))
                        done = time.monotonic()
                        # the next rebuild is spaced by what this one cost in all (the child's start,
                        # its reading and fitting, the model's way back), not by the fit alone: a
                        # 0.3 s fit in a 2 s rebuild would otherwise come round every 30 s
                        self.entries[key] = _Entry(fitted.version, done, fitted.size, fitted.model, done - start)
                        log.info("rebuilt %s of brand %s: %s items, fitted in %.1f s in a child process "
                                 "(%.1f s in all)", self.name, key, fitted.size, fitted.fit_s, done - start)
                        return
                with session_scope() as session:
                    version = self.version(session, key)
                    data = self.load(session, key)
                start = time.monotonic()
                if self.child_fit is not None:  # seconds of CPU: not under this process's GIL
                    from gigcx.fitworker import fit_in_child

                    value = fit_in_child(self.child_fit, data)
                else:
                    value = call_blocking(self.fit, data)  # the connection is back in the pool by now
                done = time.monotonic()
                self.entries[key] = _Entry(version, done, self.size(data), value, done - start)
                log.info("rebuilt %s of brand %s: %s items, fitted in %.1f s", self.name, key, self.size(data),
                         done - start)
        except Exception:
            log.exception("rebuilding %s of brand %s failed", self.name, key)
        finally:
            self.building.discard(key)
