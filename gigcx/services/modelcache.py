"""Per-brand models derived from data that keeps changing (the ranker, the suggestion index).

A small model is rebuilt inline as soon as its data changes (milliseconds, always fresh). A large
one keeps serving while a background task rebuilds it, at most once per `min_interval_s`, so a
busy brand's questions never wait for a refit. Loading runs on the event loop (it reads the
database); fitting runs in an OS thread (it is CPU work)."""
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


@dataclass
class _Entry(Generic[V]):
    version: tuple[Any, ...]
    built_at: float
    size: int
    value: V


class RefreshingCache(Generic[D, V]):
    """`get(session, key)` returns a model for `key`, rebuilt when `version(session, key)` changes."""

    def __init__(self, name: str, version: Callable[[Session, int], tuple[Any, ...]],
                 load: Callable[[Session, int], D], fit: Callable[[D], V], size: Callable[[D], int],
                 inline_below: int = 100, min_interval_s: float = 30.0):
        self.name, self.version, self.load, self.fit, self.size = name, version, load, fit, size
        self.inline_below, self.min_interval_s = inline_below, min_interval_s
        self.entries: dict[int, _Entry[V]] = {}
        self.building: set[int] = set()
        self.checked: dict[int, float] = {}

    def get(self, session: Session, key: int) -> V:
        """The current model (building it now if there is none or it is small and stale).

        The version query (an aggregate over the brand's finished cases) runs at most once per
        `GIGCX_MODEL_CHECK_S` per brand: it was two of an ask's statements and grows with history."""
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is not None and now - self.checked.get(key, float("-inf")) < current_app.config["GIGCX"].model_check_s:
            return entry.value
        version = self.version(session, key)
        self.checked[key] = now
        if entry is not None and entry.version == version:
            return entry.value
        if entry is None or entry.size < self.inline_below:
            return self._build(session, key, version, inline=True).value
        if key not in self.building and time.monotonic() - entry.built_at >= self.min_interval_s:
            self.building.add(key)
            spawn(self._rebuild, current_app._get_current_object(), key)  # type: ignore[attr-defined]
        return entry.value

    def _build(self, session: Session, key: int, version: tuple[Any, ...], inline: bool) -> _Entry[V]:
        data = self.load(session, key)
        size = self.size(data)
        value = self.fit(data) if inline and size < self.inline_below else call_blocking(self.fit, data)
        entry = _Entry(version, time.monotonic(), size, value)
        self.entries[key] = entry
        return entry

    def _rebuild(self, app: Flask, key: int) -> None:
        from gigcx.db import session_scope

        try:
            with app.app_context():
                with session_scope() as session:
                    version = self.version(session, key)
                    data = self.load(session, key)
                value = call_blocking(self.fit, data)  # the connection is back in the pool by now
                self.entries[key] = _Entry(version, time.monotonic(), self.size(data), value)
        except Exception:
            log.exception("rebuilding %s of brand %s failed", self.name, key)
        finally:
            self.building.discard(key)
