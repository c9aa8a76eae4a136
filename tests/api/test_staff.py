"""Brand staff accounts, console login, roles, and the brand's view of expert programs."""
from __future__ import annotations

import pytest

from tests.conftest import Api, assert_error


@pytest.fixture
def brand(api: Api) -> str:
    key = api.brand("acme")
    api.topic(key, "cards")
    return key


def test_staff_login_and_roles(api: Api, brand: str) -> None:
    r = api.post("/staff", brand, json={"email": "Boss@Acme.io", "password": "password-1",
                                        "display_name": "Boss"})
    assert r.status_code == 201 and r.json["role"] == "admin"
    api.post("/staff", brand, json={"email": "numbers@acme.io", "password": "password-1",
                                    "display_name": "Ana Lyst", "role": "analyst"})
    assert_error(api.post("/staff", brand, json={"email": "boss@acme.io", "password": "password-1",
                                                 "display_name": "Dup"}), 409, "conflict")
    admin = api.post("/staff/token", json={"brand": "acme", "email": "boss@acme.io", "password": "password-1"})
    assert admin.status_code == 200 and admin.json["token"].startswith("gcxs_")
    assert admin.json["staff"]["role"] == "admin" and admin.json["brand"] == "acme"
    analyst = api.post("/staff/token", json={"brand": "acme", "email": "numbers@acme.io",
                                             "password": "password-1"}).json["token"]
    # Analysts read but do not change.
    assert api.get("/brand", analyst).status_code == 200
    assert api.get("/metrics", analyst).status_code == 200
    assert_error(api.patch("/brand", analyst, json={"max_offers": 2}), 403, "forbidden")
    assert_error(api.put("/topics/x", analyst, json={"name": "X", "reward_cents": 1}), 403, "forbidden")
    assert_error(api.post("/staff", analyst, json={"email": "x@acme.io", "password": "password-1",
                                                   "display_name": "X"}), 403, "forbidden")
    assert api.patch("/brand", admin.json["token"], json={"max_offers": 2}).status_code == 200
    assert [s["email"] for s in api.get("/staff", analyst).json["staff"]] == ["boss@acme.io", "numbers@acme.io"]
    assert api.delete("/auth/token", analyst).status_code == 204
    assert_error(api.get("/brand", analyst), 401, "unauthorized")


def test_staff_login_failures(api: Api, brand: str) -> None:
    api.post("/staff", brand, json={"email": "boss@acme.io", "password": "password-1", "display_name": "B"})
    api.brand("other")
    for body in [{"brand": "acme", "email": "boss@acme.io", "password": "wrong"},
                 {"brand": "other", "email": "boss@acme.io", "password": "password-1"},
                 {"brand": "nope", "email": "boss@acme.io", "password": "password-1"}]:
        assert_error(api.post("/staff/token", json=body), 401, "unauthorized")
    assert_error(api.post("/staff/token", json={"brand": "acme"}), 422, "invalid")
    assert_error(api.post("/staff", json={"email": "a@b.io", "password": "password-1", "display_name": "A"}),
                 401, "unauthorized")
    assert_error(api.post("/staff", brand, json={"email": "a@b.io", "password": "short", "display_name": "A"}),
                 422, "invalid")


def test_programs_list_suspend_and_reject(api: Api, brand: str) -> None:
    ana, ana_token = api.expert("ana@x.io")
    ben, ben_token = api.expert("ben@x.io")
    api.post("/experts/me/programs", ana_token, json={"brand": "acme", "topics": ["cards"]})
    api.post("/experts/me/programs", ben_token, json={"brand": "acme", "topics": ["cards"]})
    pending = api.get("/programs", brand, query_string={"status": "pending"}).json["programs"]
    assert [p["expert_id"] for p in pending] == [ana, ben]
    assert pending[0]["display_name"] == "Ex" and pending[0]["stats"]["cases"] == 0
    api.post(f"/experts/{ana}/approve", brand, json={"topics": ["cards"]})
    assert api.post(f"/experts/{ben}/reject", brand).json["status"] == "rejected"
    assert api.post(f"/experts/{ana}/suspend", brand).json["status"] == "suspended"
    assert_error(api.post("/experts/me/programs", ana_token, json={"brand": "acme", "topics": ["cards"]}),
                 403, "forbidden")
    other = api.brand("other")
    assert api.get("/programs", other).json["programs"] == []
    assert_error(api.post(f"/experts/{ana}/suspend", other), 404, "not_found")
    assert_error(api.post(f"/experts/{ana}/suspend", ana_token), 403, "forbidden")
    assert_error(api.get("/programs", brand, query_string={"status": "weird"}), 422, "invalid")


def test_expert_profile(api: Api, brand: str) -> None:
    expert_id, token = api.expert("ana@x.io", languages=["en", "fr"])
    api.post("/experts/me/programs", token, json={"brand": "acme", "topics": ["cards"]})
    me = api.get("/experts/me", token).json
    assert me["id"] == expert_id and me["languages"] == ["en", "fr"]
    assert me["programs"][0]["brand"] == "acme" and me["stats"]["cases"] == 0
    assert_error(api.get("/experts/me", brand), 403, "forbidden")
    assert_error(api.get("/experts/me"), 401, "unauthorized")
