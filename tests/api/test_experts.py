"""Expert sign-up, tokens, program applications and approvals."""
from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from gigcx.models import AuthToken, Expert, ExpertProgram
from tests.api.test_brands import count
from tests.conftest import ADMIN_TOKEN, Api, assert_error


def test_sign_up_and_log_in(api: Api, app: Any) -> None:
    r = api.post("/experts", json={"email": "Ana@Example.com", "password": "s3cret-pass",
                                   "display_name": "Ana", "languages": ["en", "es"]})
    assert r.status_code == 201 and isinstance(r.json["id"], int)
    t = api.post("/auth/token", json={"email": "ana@example.com", "password": "s3cret-pass"})
    assert t.status_code == 200
    assert t.json["expert_id"] == r.json["id"] and t.json["token"].startswith("gcxe_")
    with Session(app.extensions["gigcx_engine"]) as s:
        expert = s.exec(select(Expert)).one()
        assert expert.email == "ana@example.com" and expert.languages == ["en", "es"]
        assert "s3cret-pass" not in expert.password_hash
        assert t.json["token"] not in s.exec(select(AuthToken)).one().token_hash


def test_sign_up_conflict_and_bad_login(api: Api, app: Any) -> None:
    api.expert("a@example.com", "password-1")
    r = api.post("/experts", json={"email": "a@example.com", "password": "password-2", "display_name": "B"})
    assert_error(r, 409, "conflict")
    assert_error(api.post("/auth/token", json={"email": "a@example.com", "password": "wrong-pass"}),
                 401, "unauthorized")
    assert_error(api.post("/auth/token", json={"email": "nobody@example.com", "password": "x"}),
                 401, "unauthorized")
    assert count(app, Expert) == 1


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "password": "password1", "display_name": "A"},
    {"email": "a@example.com", "password": "short", "display_name": "A"},
    {"email": "a@example.com", "password": "password1"},
    {"email": "a@example.com", "password": "password1", "display_name": "A", "languages": "en"},
    {"email": "a@example.com", "password": "password1", "display_name": "A", "languages": ["??"]},
    {"email": "a@example.com", "password": "password1", "display_name": "A", "admin": True},
    {"email": "a@example.com", "password": "password1", "display_name": "x" * 300},
])
def test_sign_up_malformed(api: Api, app: Any, body: Any) -> None:
    assert_error(api.post("/experts", json=body), 422, "invalid")
    assert count(app, Expert) == 0


@pytest.mark.parametrize("body", [{}, {"email": "a@example.com"}, {"password": "x"}, "x"])
def test_token_malformed(api: Api, body: Any) -> None:
    assert_error(api.post("/auth/token", json=body), 422, "invalid")


def test_token_revocation(api: Api) -> None:
    key = api.brand()
    _, token = api.expert()
    assert api.post("/experts/me/programs", token, json={"brand": "acme", "topics": ["t"]}).status_code == 422
    assert api.delete("/auth/token", token).status_code == 204
    assert_error(api.post("/experts/me/programs", token, json={"brand": "acme", "topics": ["t"]}),
                 401, "unauthorized")
    assert_error(api.delete("/auth/token", key), 422, "invalid")


def apply(api: Api, token: str, brand: str = "acme", topics: list[str] | None = None) -> Any:
    return api.post("/experts/me/programs", token, json={"brand": brand, "topics": topics or ["cards"]})


def test_apply_then_approve(api: Api) -> None:
    key = api.brand()
    api.topic(key, "cards")
    api.topic(key, "loans")
    expert_id, token = api.expert()
    r = apply(api, token, topics=["cards", "loans"])
    assert r.status_code == 201
    assert r.json["status"] == "pending" and r.json["requested_topics"] == ["cards", "loans"]
    assert r.json["topics"] == [] and r.json["brand"] == "acme" and r.json["expert_id"] == expert_id
    r = api.post(f"/experts/{expert_id}/approve", key, json={"topics": ["cards"]})
    assert r.status_code == 200
    assert r.json["status"] == "approved" and r.json["topics"] == ["cards"]


def test_apply_errors(api: Api, app: Any) -> None:
    key = api.brand()
    api.topic(key, "cards")
    _, token = api.expert()
    assert_error(apply(api, token, brand="nobrand"), 404, "not_found")
    assert_error(apply(api, token, topics=["nosuch"]), 422, "invalid")
    assert_error(api.post("/experts/me/programs", token, json={"brand": "acme", "topics": []}), 422, "invalid")
    assert_error(api.post("/experts/me/programs", token, json={"brand": "acme"}), 422, "invalid")
    assert_error(apply(api, None), 401, "unauthorized")  # type: ignore[arg-type]
    assert_error(apply(api, key), 403, "forbidden")
    assert_error(apply(api, ADMIN_TOKEN), 403, "forbidden")
    assert count(app, ExpertProgram) == 0


def test_approve_errors_and_other_brand(api: Api, app: Any) -> None:
    a, b = api.brand("a", "A"), api.brand("b", "B")
    api.topic(a, "cards")
    api.topic(b, "cards")
    expert_id, token = api.expert()
    apply(api, token, brand="a")
    # Brand b cannot approve an expert who applied only to brand a.
    assert_error(api.post(f"/experts/{expert_id}/approve", b, json={"topics": ["cards"]}), 404, "not_found")
    assert_error(api.post(f"/experts/{expert_id}/approve", a, json={"topics": ["nosuch"]}), 422, "invalid")
    assert_error(api.post(f"/experts/{expert_id}/approve", a, json={"topics": "cards"}), 422, "invalid")
    assert_error(api.post("/experts/999/approve", a, json={"topics": ["cards"]}), 404, "not_found")
    assert_error(api.post(f"/experts/{expert_id}/approve", json={"topics": ["cards"]}), 401, "unauthorized")
    assert_error(api.post(f"/experts/{expert_id}/approve", token, json={"topics": ["cards"]}), 403, "forbidden")
    with Session(app.extensions["gigcx_engine"]) as s:
        programs = s.exec(select(ExpertProgram)).all()
        assert [(p.status, p.topics) for p in programs] == [("pending", [])]


def test_openapi_document_lists_every_endpoint(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [("/api/v1/brands", "post"), ("/api/v1/brand", "get"), ("/api/v1/brand", "patch"),
                         ("/api/v1/topics/{slug}", "put"), ("/api/v1/topics", "get"),
                         ("/api/v1/experts", "post"), ("/api/v1/auth/token", "post"),
                         ("/api/v1/experts/me/programs", "post"),
                         ("/api/v1/experts/{id}/approve", "post")]:
        assert method in paths[path], (path, method)
    assert "BrandCreate" in doc["components"]["schemas"]


def test_unknown_path_and_method_use_error_format(client: Any) -> None:
    assert_error(client.get("/api/v1/nothing"), 404, "not_found")
    assert_error(client.delete("/api/v1/brands"), 405, "method_not_allowed")
