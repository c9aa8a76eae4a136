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


def test_memory_storage_sweeps_rarely_and_still_limits() -> None:
    """The sweep override hooks a private name of limits' MemoryStorage: fail loudly if an
    upgrade renames it (the 10 ms sweep would silently come back)."""
    import time

    from limits import RateLimitItemPerMinute
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    from gigcx.ratelimit import SweepingMemoryStorage

    assert hasattr(MemoryStorage, "_MemoryStorage__schedule_expiry")
    assert hasattr(MemoryStorage, "_MemoryStorage__expire_events")
    store = SweepingMemoryStorage()
    limiter = MovingWindowRateLimiter(store)
    item = RateLimitItemPerMinute(2)
    assert limiter.hit(item, "k") and limiter.hit(item, "k") and not limiter.hit(item, "k")
    assert limiter.hit(item, "other")
    time.sleep(0.05)  # the base class's first 10 ms timer has fired; ours is armed at 1 s
    first = store.timer
    assert first.interval == SweepingMemoryStorage.SWEEP_S
    for i in range(100):
        limiter.hit(item, f"k{i}")
    assert store.timer is first  # one sweep per second, however many hits
    first.cancel()
