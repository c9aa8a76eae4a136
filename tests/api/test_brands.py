"""Brands, settings and topics: happy paths, credentials, other brands, malformed bodies."""
from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, func, select

from gigcx.models import Brand, BrandApiKey, Topic
from tests.conftest import ADMIN_TOKEN, Api, assert_error


def count(app: Any, model: Any) -> int:
    with Session(app.extensions["gigcx_engine"]) as s:
        return s.exec(select(func.count()).select_from(model)).one()  # type: ignore[no-any-return]


def test_operator_creates_brand_with_hashed_key(api: Api, app: Any) -> None:
    r = api.post("/brands", ADMIN_TOKEN, json={"slug": "acme", "name": "Acme Inc"})
    assert r.status_code == 201
    assert r.json["slug"] == "acme" and r.json["name"] == "Acme Inc"
    key = r.json["api_key"]
    assert key.startswith("gcxb_") and len(key) > 40
    with Session(app.extensions["gigcx_engine"]) as s:
        stored = s.exec(select(BrandApiKey)).one()
        assert key not in stored.key_hash and stored.key_hash != key


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}])
def test_create_brand_needs_operator_token(api: Api, app: Any, headers: dict[str, str]) -> None:
    r = api.post("/brands", json={"slug": "acme", "name": "Acme"}, headers=headers)
    assert_error(r, 401, "unauthorized")
    assert count(app, Brand) == 0


def test_create_brand_refuses_other_roles(api: Api, app: Any) -> None:
    key = api.brand("first")
    _, token = api.expert()
    for t in (key, token):
        assert_error(api.post("/brands", t, json={"slug": "x", "name": "X"}), 403, "forbidden")
    assert count(app, Brand) == 1


def test_admin_endpoints_answer_401_without_configured_token(api: Api, app: Any) -> None:
    app.config["GIGCX"].admin_token = None
    assert_error(api.post("/brands", ADMIN_TOKEN, json={"slug": "a", "name": "A"}), 401, "unauthorized")


@pytest.mark.parametrize("body", [
    {"slug": "acme"}, {"name": "Acme"}, {"slug": "Not A Slug", "name": "x"},
    {"slug": "acme", "name": ""}, {"slug": "acme", "name": "x" * 201},
    {"slug": "acme", "name": "Acme", "extra": 1}, {"slug": 5, "name": "Acme"}, [], "text", None,
])
def test_create_brand_malformed(api: Api, app: Any, body: Any) -> None:
    r = api.post("/brands", ADMIN_TOKEN, json=body)
    assert_error(r, 422, "invalid")
    assert count(app, Brand) == 0


def test_create_brand_not_json(api: Api, app: Any) -> None:
    r = api.post("/brands", ADMIN_TOKEN, data="{not json", content_type="application/json")
    assert_error(r, 422, "invalid")
    assert count(app, Brand) == 0


def test_duplicate_brand_is_conflict(api: Api, app: Any) -> None:
    api.brand("acme")
    assert_error(api.post("/brands", ADMIN_TOKEN, json={"slug": "acme", "name": "B"}), 409, "conflict")
    assert count(app, Brand) == 1


def test_brand_settings_defaults_and_patch(api: Api) -> None:
    key = api.brand()
    r = api.get("/brand", key)
    assert r.status_code == 200
    assert {k: r.json[k] for k in ("offer_timeout_s", "max_offers", "escalate_after_s",
                                   "confirm_window_s", "review_window_s", "currency")} == {
        "offer_timeout_s": 60, "max_offers": 3, "escalate_after_s": 900,
        "confirm_window_s": 86400, "review_window_s": 259200, "currency": "usd"}
    r = api.patch("/brand", key, json={"offer_timeout_s": 30, "currency": "eur",
                                       "bonus_rules": {"five_star_cents": 50}})
    assert r.status_code == 200
    assert r.json["offer_timeout_s"] == 30 and r.json["currency"] == "eur"
    assert r.json["bonus_rules"]["five_star_cents"] == 50
    assert api.get("/brand", key).json["offer_timeout_s"] == 30


@pytest.mark.parametrize("body", [
    {"offer_timeout_s": 0}, {"offer_timeout_s": "fast"}, {"max_offers": -1}, {"currency": "EURO"},
    {"unknown": 1}, {"offer_timeout_s": None}, {"bonus_rules": {"five_star_cents": -5}}, [1],
])
def test_patch_brand_malformed_changes_nothing(api: Api, body: Any) -> None:
    key = api.brand()
    before = api.get("/brand", key).json
    r = api.patch("/brand", key, json=body)
    assert_error(r, 422, "invalid")
    assert api.get("/brand", key).json == before


def test_brand_settings_need_brand_credentials(api: Api) -> None:
    api.brand()
    _, expert = api.expert()
    assert_error(api.get("/brand"), 401, "unauthorized")
    assert_error(api.get("/brand", "gcxb_forged"), 401, "unauthorized")
    assert_error(api.get("/brand", expert), 403, "forbidden")
    assert_error(api.get("/brand", ADMIN_TOKEN), 403, "forbidden")
    assert_error(api.patch("/brand", expert, json={"max_offers": 2}), 403, "forbidden")


def test_each_brand_sees_only_its_own_settings_and_topics(api: Api) -> None:
    a, b = api.brand("a", "A"), api.brand("b", "B")
    api.topic(a, "cards")
    api.patch("/brand", a, json={"max_offers": 5})
    assert api.get("/brand", b).json["slug"] == "b"
    assert api.get("/brand", b).json["max_offers"] == 3
    assert api.get("/topics", b).json == {"topics": []}
    api.topic(b, "cards", reward=100)
    assert api.get("/topics", a).json["topics"][0]["reward_cents"] == 300


def test_put_topic_creates_then_replaces(api: Api) -> None:
    key = api.brand()
    r = api.put("/topics/cards", key, json={"name": "Cards", "reward_cents": 250,
                                            "description": "Card questions",
                                            "examples": ["Where is my card?"]})
    assert r.status_code == 200
    assert r.json == {"slug": "cards", "name": "Cards", "reward_cents": 250, "active": True,
                      "description": "Card questions", "examples": ["Where is my card?"]}
    r = api.put("/topics/cards", key, json={"name": "Card help", "reward_cents": 400})
    assert r.json["name"] == "Card help" and r.json["examples"] == []
    topics = api.get("/topics", key).json["topics"]
    assert [t["slug"] for t in topics] == ["cards"]


@pytest.mark.parametrize("path,body", [
    ("/topics/cards", {"name": "Cards"}),
    ("/topics/cards", {"name": "Cards", "reward_cents": -1}),
    ("/topics/cards", {"name": "Cards", "reward_cents": 1, "examples": "not a list"}),
    ("/topics/cards", {"name": "Cards", "reward_cents": 1, "description": "x" * 4001}),
    ("/topics/cards", {"name": "Cards", "reward_cents": 1, "examples": ["x" * 4001]}),
    ("/topics/BAD%20SLUG", {"name": "Cards", "reward_cents": 1}),
])
def test_put_topic_malformed(api: Api, app: Any, path: str, body: Any) -> None:
    key = api.brand()
    assert_error(api.put(path, key, json=body), 422, "invalid")
    assert count(app, Topic) == 0


def test_topics_need_brand_credentials(api: Api, app: Any) -> None:
    api.brand()
    _, expert = api.expert()
    body = {"name": "Cards", "reward_cents": 1}
    assert_error(api.put("/topics/cards", json=body), 401, "unauthorized")
    assert_error(api.put("/topics/cards", expert, json=body), 403, "forbidden")
    assert_error(api.get("/topics", expert), 403, "forbidden")
    assert_error(api.get("/topics"), 401, "unauthorized")
    assert count(app, Topic) == 0


def test_api_key_rotation_revokes_old_key(api: Api) -> None:
    old = api.brand()
    r = api.post("/brand/api-key", old)
    assert r.status_code == 201
    new = r.json["api_key"]
    assert new != old
    assert_error(api.get("/brand", old), 401, "unauthorized")
    assert api.get("/brand", new).status_code == 200
