"""Endpoints added for the consoles: public program, staff/me, metrics CSV export."""
from __future__ import annotations

import csv
import io
from datetime import UTC

from tests.conftest import Api, assert_error


def test_public_program_lists_active_topics(api: Api) -> None:
    key = api.brand("acme", "Acme <Bank>")
    api.topic(key, "cards", reward=250)
    api.put("/topics/old", key, json={"name": "Old", "reward_cents": 1, "active": False})
    r = api.get("/brands/acme/program")  # anonymous on purpose: experts apply before any approval
    assert r.status_code == 200
    assert r.json["name"] == "Acme <Bank>" and r.json["slug"] == "acme" and r.json["currency"] == "usd"
    assert [(t["slug"], t["reward_cents"]) for t in r.json["topics"]] == [("cards", 250)]
    assert "examples" not in r.json["topics"][0]  # example questions stay the brand's
    assert_error(api.get("/brands/nope/program"), 404, "not_found")
    assert_error(api.get("/brands/BAD!/program"), 422, "invalid")


def test_staff_me(api: Api) -> None:
    key = api.brand("acme")
    api.brand("other")
    api.post("/staff", key, json={"email": "an@acme.io", "password": "password-1", "display_name": "An",
                                  "role": "analyst"})
    token = api.post("/staff/token", json={"brand": "acme", "email": "an@acme.io",
                                           "password": "password-1"}).json["token"]
    me = api.get("/staff/me", token).json
    assert me["role"] == "analyst" and me["brand"] == "acme" and me["staff"]["email"] == "an@acme.io"
    by_key = api.get("/staff/me", key).json
    assert by_key["role"] == "admin" and by_key["staff"] is None
    assert_error(api.get("/staff/me"), 401, "unauthorized")
    assert_error(api.get("/staff/me", "gcxs_nonsense"), 401, "unauthorized")
    _, expert = api.expert()
    assert_error(api.get("/staff/me", expert), 403, "forbidden")


def test_metrics_export_csv(api: Api) -> None:
    key = api.brand("acme")
    other = api.brand("other")
    r = api.get("/metrics/export.csv?bucket=week", key)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["bucket", "cases", "resolved"] and len(rows) == 1  # no cases yet
    assert api.get("/metrics/export.csv", other).status_code == 200
    assert_error(api.get("/metrics/export.csv"), 401, "unauthorized")
    assert_error(api.get("/metrics/export.csv?bucket=year", key), 422, "invalid")
    assert_error(api.get("/metrics/export.csv?since=yesterday", key), 422, "invalid")
    assert_error(api.get("/metrics/export.csv?color=red", key), 422, "invalid")


def test_metrics_export_counts_only_own_cases(api: Api, app: object) -> None:
    from datetime import datetime

    from sqlmodel import select

    from gigcx.db import session_scope
    from gigcx.models import Brand, Case, Customer

    key = api.brand("acme")
    api.brand("other")
    with app.app_context(), session_scope() as s:  # type: ignore[attr-defined]
        for i, slug in enumerate(("acme", "other", "other")):
            brand = s.exec(select(Brand).where(Brand.slug == slug)).one()
            cust = Customer(brand_id=brand.id, token_hash=f"h{i}")
            s.add(cust)
            s.flush()
            s.add(Case(brand_id=brand.id, customer_id=cust.id, client_id=f"c{i}", question="=cmd|' /C calc'!A0",
                       status="resolved", created_at=datetime(2026, 1, 5, tzinfo=UTC)))
        s.commit()
    rows = list(csv.DictReader(io.StringIO(api.get("/metrics/export.csv?bucket=day", key).get_data(as_text=True))))
    assert [(r["bucket"], r["cases"], r["resolved"]) for r in rows] == [("2026-01-05", "1", "1")]
