"""Rate limits: sign-ups and logins per address, asks and messages per customer."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gigcx import create_app
from gigcx.config import Settings
from tests.conftest import Api, assert_error


def test_signups_and_logins_are_limited_per_address(tmp_path: Path, database_url: str) -> None:
    settings = Settings(instance_path=str(tmp_path / "i"), database_url=database_url,
                        rate_limit_auth_per_min=3).finish()
    app = create_app({"GIGCX": settings})
    api = Api(app.test_client())
    for i in range(2):
        assert api.post("/experts", json={"email": f"e{i}@x.io", "password": "password-1",
                                          "display_name": "E"}).status_code == 201
    assert api.post("/auth/token", json={"email": "e0@x.io", "password": "password-1"}).status_code == 200
    assert_error(api.post("/auth/token", json={"email": "e0@x.io", "password": "password-1"}), 429, "rate_limited")
    assert_error(api.post("/experts", json={"email": "late@x.io", "password": "password-1",
                                            "display_name": "E"}), 429, "rate_limited")
    app.extensions["gigcx_engine"].dispose()


def test_asks_and_messages_are_limited_per_customer(servers: Any, peers: Any) -> None:
    server = servers(env={"GIGCX_RATE_LIMIT_ASKS_PER_MIN": "2", "GIGCX_RATE_LIMIT_MESSAGES_PER_MIN": "3"})
    slug, key = server.brand()
    server.topic(key, "cards")
    customer = peers(server.url, "/customer", {"brand": slug})
    first = customer.call("ask", {"text": "one", "client_id": "1"})
    assert first["ok"] and customer.call("ask", {"text": "two", "client_id": "2"})["ok"]
    limited = customer.call("ask", {"text": "three", "client_id": "3"})
    assert limited["ok"] is False and limited["error"]["code"] == "rate_limited"
    assert len(customer.call("cases")["cases"]) == 2
    case_id = first["case"]["id"]
    acks = [customer.call("message", {"case_id": case_id, "text": f"m{i}", "client_id": f"m{i}"}) for i in range(4)]
    assert [a["ok"] for a in acks] == [True, True, True, False]
    assert acks[-1]["error"]["code"] == "rate_limited"
    # Another customer is not affected.
    other = peers(server.url, "/customer", {"brand": slug})
    assert other.call("ask", {"text": "mine", "client_id": "1"})["ok"]


def test_moving_windows_in_memory_count_like_limits_moving_window(monkeypatch: Any) -> None:
    """The in-memory windows refuse exactly when limits' MovingWindowRateLimiter would (at most
    `limit` hits in any trailing minute, refused hits not counted, keys apart); idle keys are swept."""
    import random

    import limits.storage.memory
    from limits import RateLimitItemPerMinute
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    from gigcx.ratelimit import MovingWindows

    now = [1000.0]
    monkeypatch.setattr(limits.storage.memory.time, "time", lambda: now[0])
    store = MemoryStorage()
    store._MemoryStorage__schedule_expiry = lambda: None  # type: ignore[attr-defined]  # its sweep runs on real time
    theirs_limiter, item = MovingWindowRateLimiter(store), RateLimitItemPerMinute(3)
    windows = MovingWindows(clock=lambda: now[0])
    rng = random.Random(7)
    ours, theirs = [], []
    for _ in range(2000):
        now[0] += rng.choice((0, 0.5, 1, 5, 20, 30, 59.5, 60, 61))
        key = rng.choice(("a", "b"))
        ours.append(windows.hit("message", key, 3, 60))
        theirs.append(theirs_limiter.hit(item, "message", key))
    assert ours == theirs and 0 < sum(ours) < len(ours)
    assert windows.hit("ask", "a", 3, 60)  # kinds apart
    assert not MovingWindows().hit("message", "k", 0, 60)
    now[0] += 60 + MovingWindows.SWEEP_S
    assert windows.hit("message", "fresh", 3, 60) and len(windows) == 1  # the idle keys were dropped


def test_a_key_in_steady_use_keeps_only_its_window_of_hits() -> None:
    """Memory follows the traffic, not the limit: a key hit twice a second for ten minutes under a
    limit far above that keeps about one window's hits, and the limit still holds."""
    from gigcx.ratelimit import MovingWindows

    now = [0.0]
    windows = MovingWindows(clock=lambda: now[0])
    for _ in range(1200):
        now[0] += 0.5
        assert windows.hit("message", "busy", 1_000_000, 60)
    assert windows.held() <= 121
    for _ in range(5):
        assert windows.hit("ask", "tight", 5, 60)
    assert not windows.hit("ask", "tight", 5, 60)  # the limit counts as before
    now[0] += 60  # the oldest hit is exactly a window old: it still counts (as in limits)
    assert not windows.hit("ask", "tight", 5, 60)
    now[0] += 0.01
    assert windows.hit("ask", "tight", 5, 60)
