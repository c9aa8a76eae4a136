"""Per-app state: model and roster caches and timer handlers live in `app.extensions`, created by
the factory, so two apps in one process never share them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gigcx import create_app
from gigcx.config import Settings
from gigcx.services import dispatch, presence, ranking, rewards, routing, timers

KEYS = ("gigcx_routing", "gigcx_ranking", "gigcx_presence", "gigcx_timers", "gigcx_roles")


def _second_app(tmp_path: Path) -> Any:
    folder = tmp_path / "second"
    return create_app({"GIGCX": Settings(instance_path=str(folder), database_url=f"sqlite:///{folder}/x.db",
                                         secret_key="x").finish(), "TESTING": True})


def test_two_apps_never_share_caches_or_handlers(app: Any, tmp_path: Path) -> None:
    other = _second_app(tmp_path)
    try:
        for key in KEYS:
            assert app.extensions[key] is not other.extensions[key], key
        assert routing.state(app).suggesters is not routing.state(other).suggesters
        assert ranking.state(app).rankers is not ranking.state(other).rankers
        assert ranking.state(app).stats is not ranking.state(other).stats
        with app.app_context():
            routing.state().checked[1] = (0.0, 7)
            ranking.state().stats[5] = (1.0, 2)
        with other.app_context():
            assert routing.state().checked == {} and 5 not in ranking.state().stats
            assert presence._profiles() == {}
    finally:
        other.extensions["gigcx_engine"].dispose()


def test_timer_handlers_are_named_in_the_factory_not_registered_on_import(app: Any) -> None:
    assert not hasattr(timers, "HANDLERS") and not hasattr(timers, "handler")
    assert app.extensions["gigcx_timers"] == {
        "offer_expiry": dispatch.offer_expired,
        "case_escalate": dispatch.escalate_unanswered,
        "confirm_window": dispatch.confirm_by_silence,
        "review_window": rewards.review_window_over,
    }
    with app.app_context():
        assert timers.handlers() is app.extensions["gigcx_timers"]
