"""Brand reporting: case list and filters, one case with transcript, metrics, CSV export."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from gigcx.models import Case, Customer, Expert, Message, Rating
from tests.conftest import Api, assert_error

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def seed(app: Any, brand_id: int) -> dict[str, int]:
    """Four cases: two resolved and rated, one escalated, one deflected."""
    with Session(app.extensions["gigcx_engine"]) as s:
        ana = Expert(email=f"ana{brand_id}@x.io", password_hash="x", display_name="Ana", languages=["en"])
        ben = Expert(email=f"ben{brand_id}@x.io", password_hash="x", display_name="Ben", languages=["en"])
        cust = Customer(brand_id=brand_id, token_hash=f"h{brand_id}")
        s.add_all([ana, ben, cust])
        s.flush()
        specs = [  # (topic, expert, status, first response s, resolution s, csat, nps)
            ("cards", ana, "resolved", 30, 300, 5, 10),
            ("cards", ben, "resolved", 90, 900, 3, 5),
            ("loans", ana, "escalated", 60, None, None, None),
            ("loans", None, "closed", None, None, None, None),
        ]
        ids = {}
        for i, (topic, expert, status, fr, res, csat, nps) in enumerate(specs):
            created = T0 + timedelta(hours=i)
            case = Case(brand_id=brand_id, customer_id=cust.id, client_id=f"c{i}", question=f"question =SUM({i}) mail a@b.co",
                        topic=topic, status=status, expert_id=expert.id if expert else None, created_at=created,
                        first_response_at=created + timedelta(seconds=fr) if fr else None,
                        resolved_at=created + timedelta(seconds=res) if res else None,
                        escalated_at=created + timedelta(minutes=5) if status == "escalated" else None,
                        deflected=status == "closed", last_seq=1)
            s.add(case)
            s.flush()
            s.add(Message(case_id=case.id, seq=1, sender="customer", text=case.question))
            if csat:
                s.add(Rating(case_id=case.id, expert_id=expert.id, csat=csat, nps=nps))
            ids[f"{topic}{i}"] = case.id
        s.commit()
        ids["ana"], ids["ben"] = ana.id, ben.id
        return ids


@pytest.fixture
def brand(api: Api, app: Any) -> tuple[str, dict[str, int]]:
    key = api.brand("acme")
    return key, seed(app, 1)


def test_metrics_numbers(api: Api, brand: tuple[str, dict[str, int]]) -> None:
    key, ids = brand
    m = api.get("/metrics", key).json
    assert m["cases"] == 4 and m["resolved"] == 2
    assert m["resolution_rate"] == 0.5 and m["escalation_rate"] == 0.25 and m["deflection_rate"] == 0.25
    assert m["first_response_p50_s"] == 60 and m["first_response_p90_s"] == pytest.approx(84)
    assert m["resolution_p50_s"] == 600
    assert m["csat_avg"] == 4 and m["nps"] == 0.0  # one promoter, one detractor
    assert set(m["by_topic"]) == {"cards", "loans"}
    assert m["by_topic"]["cards"]["resolution_rate"] == 1.0
    assert m["by_expert"][str(ids["ana"])]["display_name"] == "Ana"
    assert m["by_expert"][str(ids["ana"])]["cases"] == 2
    windowed = api.get("/metrics", key, query_string={"since": "2026-03-02T10:30:00Z", "bucket": "hour"}).json
    assert windowed["cases"] == 2 and [b["bucket"] for b in windowed["series"]] == [
        "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"]


def test_metrics_errors(api: Api, brand: tuple[str, dict[str, int]]) -> None:
    key, _ = brand
    _, expert = api.expert()
    assert_error(api.get("/metrics"), 401, "unauthorized")
    assert_error(api.get("/metrics", expert), 403, "forbidden")
    assert_error(api.get("/metrics", key, query_string={"since": "yesterday"}), 422, "invalid")
    assert_error(api.get("/metrics", key, query_string={"bucket": "year"}), 422, "invalid")
    other = api.brand("other")
    assert api.get("/metrics", other).json["cases"] == 0


def test_case_list_filters_and_pages(api: Api, brand: tuple[str, dict[str, int]]) -> None:
    key, ids = brand
    page = api.get("/cases", key, query_string={"limit": 3}).json
    assert [c["id"] for c in page["cases"]] == sorted(ids[k] for k in ("cards0", "cards1", "loans2", "loans3"))[::-1][:3]
    rest = api.get("/cases", key, query_string={"limit": 3, "before_id": page["next_before_id"]}).json
    assert len(rest["cases"]) == 1 and rest["next_before_id"] is None
    resolved = api.get("/cases", key, query_string={"status": "resolved"}).json["cases"]
    assert {c["id"] for c in resolved} == {ids["cards0"], ids["cards1"]}
    assert resolved[-1]["rating"] == {"csat": 5, "nps": 10, "comment": None}
    assert resolved[-1]["first_response_s"] == 30 and resolved[-1]["resolution_s"] == 300
    by_expert = api.get("/cases", key, query_string={"expert_id": ids["ben"]}).json["cases"]
    assert [c["expert"]["display_name"] for c in by_expert] == ["Ben"]
    assert_error(api.get("/cases", key, query_string={"status": "weird"}), 422, "invalid")
    assert_error(api.get("/cases", key, query_string={"limit": 1000}), 422, "invalid")
    assert api.get("/cases", api.brand("other")).json["cases"] == []


def test_one_case_with_transcript_and_isolation(api: Api, brand: tuple[str, dict[str, int]]) -> None:
    key, ids = brand
    case = api.get(f"/cases/{ids['cards0']}", key).json
    assert case["messages"][0]["text"].endswith("a@b.co")  # brands read the original
    assert case["messages"][0]["seq"] == 1 and case["offers"] == []
    assert_error(api.get(f"/cases/{ids['cards0']}", api.brand("other")), 404, "not_found")
    assert_error(api.get("/cases/999999", key), 404, "not_found")
    _, expert = api.expert()
    assert_error(api.get(f"/cases/{ids['cards0']}", expert), 403, "forbidden")
    assert_error(api.get(f"/cases/{ids['cards0']}"), 401, "unauthorized")


def test_csv_export_is_spreadsheet_safe(api: Api, brand: tuple[str, dict[str, int]]) -> None:
    key, _ = brand
    r = api.get("/cases/export.csv", key)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 4
    assert all(row["question"].startswith("question") for row in rows)
    assert {row["status"] for row in rows} == {"resolved", "escalated", "closed"}
    tricky = api.get("/cases/export.csv", key, query_string={"since": "2030-01-01T00:00:00Z"})
    assert tricky.get_data(as_text=True).strip().count("\n") == 0


def test_case_routing_names_the_experts_offered(api: Api, app: Any, brand: tuple[str, dict[str, int]]) -> None:
    """The brand's routing table reads names, not expert ids."""
    from gigcx.models import Offer

    key, ids = brand
    with Session(app.extensions["gigcx_engine"]) as s:
        for expert, status in (("ana", "declined"), ("ben", "accepted")):
            s.add(Offer(case_id=ids["cards1"], expert_id=ids[expert], status=status, score=0.5,
                        reasons={"why": "top score", "expertise_scaled": 0.5}, expires_at=T0))
        s.commit()
    offers = api.get(f"/cases/{ids['cards1']}", key).json["offers"]
    assert [(o["display_name"], o["expert_id"], o["status"]) for o in offers] == [
        ("Ana", ids["ana"], "declined"), ("Ben", ids["ben"], "accepted")]
    assert offers[0]["reasons"]["why"] == "top score"
