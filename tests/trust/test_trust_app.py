"""Trust controls through the app: holds at resolution and rating, decisions, QA, quality, settings."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import select

from gigcx.db import session_scope
from gigcx.events import Outbox
from gigcx.models import Case, Customer, Expert, ExpertQuality, Timer, utcnow
from gigcx.services import cases, ranking
from gigcx.services.cases import Actor
from tests.conftest import assert_error
from tests.payouts.money_helpers import (
    balances,
    expert,
    expire_review_window,
    fire_due_timers,
    setup_brand,
)

ANSWER = "Open the app, go to Cards, tap Replace card and confirm your delivery address there."


def customer(app: Any, brand_id: int) -> int:
    with app.app_context(), session_scope() as s:
        c = Customer(brand_id=brand_id, token_hash=uuid.uuid4().hex)
        s.add(c)
        s.commit()
        return c.id  # type: ignore[return-value]


def active_case(app: Any, brand_id: int, expert_id: int, customer_id: int, answer: str | None = ANSWER,
                topic: str = "cards") -> int:
    """An active case of this customer with the expert, assigned 2 minutes ago, maybe answered."""
    with app.app_context(), session_scope() as s:
        case = Case(brand_id=brand_id, customer_id=customer_id, client_id=uuid.uuid4().hex, question="where is my card",
                    topic=topic, status="active", expert_id=expert_id, assigned_at=utcnow() - timedelta(minutes=2))
        s.add(case)
        s.commit()
        if answer:
            cases.post_message(s, Outbox(), Actor("expert", expert_id), case_id=case.id, text=answer,  # type: ignore[arg-type]
                               client_id="a1")
            s.commit()
        return case.id  # type: ignore[return-value]


def confirm(app: Any, case_id: int, customer_id: int) -> None:
    with app.app_context(), session_scope() as s:
        cases.propose_resolution(s, Outbox(), Actor("expert", s.get(Case, case_id).expert_id), case_id=case_id)  # type: ignore[union-attr]
        cases.customer_resolve(s, Outbox(), Actor("customer", customer_id), case_id=case_id, resolved=True)
        s.commit()


def confirm_by_silence(app: Any, case_id: int) -> None:
    with app.app_context(), session_scope() as s:
        cases.propose_resolution(s, Outbox(), Actor("expert", s.get(Case, case_id).expert_id), case_id=case_id)  # type: ignore[union-attr]
        timer = s.exec(select(Timer).where(Timer.kind == "confirm_window", Timer.ref_id == case_id)).one()
        timer.due_at = utcnow() - timedelta(seconds=1)
        s.add(timer)
        s.commit()
    fire_due_timers(app)


def rate(app: Any, case_id: int, customer_id: int, csat: int) -> None:
    with app.app_context(), session_scope() as s:
        cases.rate(s, Outbox(), Actor("customer", customer_id), case_id=case_id, csat=csat, nps=None, comment=None)
        s.commit()


def entries(api: Any, token: str) -> dict[int, dict[str, Any]]:
    r = api.get("/experts/me/earnings", token)
    assert r.status_code == 200, r.json
    return {e["case_id"]: e for e in r.json["entries"]}


def test_silence_pays_only_a_substantive_answer(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300)
    ex, token = expert(api)
    silent = active_case(app, brand_id, ex, customer(app, brand_id), answer="ok")
    answered = active_case(app, brand_id, ex, customer(app, brand_id))
    confirm_by_silence(app, silent)
    confirm_by_silence(app, answered)
    got = entries(api, token)
    assert got[silent]["status"] == "held" and got[answered]["status"] == "pending"
    assert got[silent]["hold_reasons"] == ["confirmed by silence without a substantive answer from the expert"]
    for case_id in (silent, answered):
        expire_review_window(app, case_id)
    fire_due_timers(app)
    got = entries(api, token)
    assert got[silent]["status"] == "held" and got[answered]["status"] == "available"
    r = api.get("/experts/me/earnings", token).json
    assert r["pending_cents"] == 300 and r["available_cents"] == 300  # held money stays pending

    flagged = api.get("/trust/flagged", key).json["cases"]
    assert [f["case_id"] for f in flagged] == [silent]
    detail = api.get(f"/trust/flagged/{silent}", key).json
    assert detail["signals"][0]["code"] == "silent_no_answer" and detail["held"] and detail["resolved_by"] == "silence"
    assert any(m["sender"] == "expert" and m["text"] == "ok" for m in detail["messages"])
    assert detail["decisions"][0]["action"] == "hold" and detail["decisions"][0]["actor"] == "system"

    # release after the window: available at once, audited
    done = api.post(f"/trust/flagged/{silent}/decision", key, json={"action": "release", "note": "answered by phone"})
    assert done.status_code == 200, done.json
    assert done.json["hold_state"] == "released" and done.json["reward_status"] == "released"
    assert entries(api, token)[silent]["status"] == "available"
    again = api.post(f"/trust/flagged/{silent}/decision", key, json={"action": "release"})
    assert again.status_code == 200
    assert_error(api.post(f"/trust/flagged/{silent}/decision", key, json={"action": "reject"}), 409, "conflict")
    assert_error(api.post(f"/trust/flagged/{answered}/decision", key, json={"action": "reject"}), 409, "conflict")
    clean = api.get(f"/trust/flagged/{answered}", key).json
    assert clean["signals"] == [] and clean["hold_state"] is None and clean["flagged_at"] is None
    log = api.get("/trust/decisions", key).json["decisions"]
    assert [(d["action"], d["actor"], d["note"]) for d in log][:2] == [
        ("release", "api_key", "answered by phone"), ("hold", "system", detail["decisions"][0]["note"])]
    assert all(d["at"].endswith("Z") for d in log)


def test_reject_takes_a_held_reward_back_even_after_the_window(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api, reward=300, bonus_rules={"five_star_cents": 100})
    ex, token = expert(api)
    cust = customer(app, brand_id)
    case_id = active_case(app, brand_id, ex, cust, answer=None)
    confirm_by_silence(app, case_id)
    rate(app, case_id, cust, 5)
    assert entries(api, token)[case_id]["amount_cents"] == 400
    expire_review_window(app, case_id)
    fire_due_timers(app)
    bad = api.post(f"/trust/flagged/{case_id}/decision", key, json={"action": "maybe"})
    assert_error(bad, 422, "invalid")
    r = api.post(f"/cases/{case_id}/review", key, json={"verdict": "reject", "note": "no answer"})
    assert r.status_code == 200, r.json
    assert r.json["reward_status"] == "reversed" and r.json["clawback"] is True
    assert entries(api, token)[case_id]["status"] == "reversed"
    assert balances(app).get((f"expert:{ex}:pending", "usd"), 0) == 0
    flag = api.get(f"/trust/flagged/{case_id}", key).json
    assert flag["hold_state"] == "rejected" and flag["decisions"][-1]["note"] == "no answer"
    assert api.get("/trust/flagged?status=rejected", key).json["cases"][0]["case_id"] == case_id


def test_escalated_ratings_do_not_count_for_the_expert(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api)
    ex, _ = expert(api)
    cust = customer(app, brand_id)
    case_id = active_case(app, brand_id, ex, cust)
    with app.app_context(), session_scope() as s:
        cases.escalate(s, Outbox(), s.get(Case, case_id), "needs staff")  # type: ignore[arg-type]
        s.commit()
    rate(app, case_id, cust, 1)
    from gigcx.events import expert_rating

    with app.app_context(), session_scope() as s:
        assert expert_rating(s, ex) is None
        assert s.exec(select(ExpertQuality)).first() is None
    m = api.get("/metrics", key).json
    assert m["csat_count"] == 1 and m["by_expert"][str(ex)]["csat_count"] == 0


def test_a_rating_ring_weighs_less_and_holds(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api)
    ex, token = expert(api)
    friend = customer(app, brand_id)
    ids = []
    for _ in range(3):
        case_id = active_case(app, brand_id, ex, friend)
        confirm(app, case_id, friend)
        rate(app, case_id, friend, 5)
        ids.append(case_id)
    got = entries(api, token)
    assert [got[i]["status"] for i in ids] == ["pending", "pending", "held"]
    codes = [s["code"] for s in api.get(f"/trust/flagged/{ids[2]}", key).json["signals"]]
    assert codes == ["repeat_pair", "rating_ring"]
    q = api.get("/trust/quality", key).json["scores"][0]
    assert q["rating_ring"] is True and q["ratings"] == 0.25  # three ratings weigh a quarter of one


def test_qa_sample_quality_score_holds_and_fewer_offers(app: Any, api: Any) -> None:
    key, brand_id = setup_brand(api)
    r = api.patch("/brand", key, json={"trust": {"qa_sample_rate": 1.0, "quality_threshold": 0.6}})
    assert r.status_code == 200 and r.json["trust"]["qa_sample_rate"] == 1.0
    ex, token = expert(api)
    good, _ = expert(api, "good")
    sampled = []
    for _ in range(3):
        cust = customer(app, brand_id)
        case_id = active_case(app, brand_id, ex, cust)
        confirm(app, case_id, cust)
        sampled.append(case_id)
    queue = api.get("/trust/flagged?status=pending_qa", key).json["cases"]
    assert sorted(f["case_id"] for f in queue) == sorted(sampled) and not any(f["held"] for f in queue)
    for case_id in sampled:
        r = api.post(f"/trust/qa/{case_id}", key, json={"verdict": "fail", "note": "wrong steps"})
        assert r.status_code == 200 and r.json["qa_verdict"] == "fail"
    assert_error(api.post(f"/trust/qa/{sampled[0]}", key, json={"verdict": "pass"}), 409, "conflict")
    assert api.get("/trust/flagged?status=pending_qa", key).json["cases"] == []
    [score] = api.get(f"/trust/quality?expert_id={ex}", key).json["scores"]
    assert score["reviews"] == 3 and score["below_threshold"] and score["score"] < 0.4

    cust = customer(app, brand_id)
    nxt = active_case(app, brand_id, ex, cust)
    confirm(app, nxt, cust)
    assert entries(api, token)[nxt]["status"] == "held"
    mine = api.get("/experts/me/quality", token).json
    assert mine["scores"][0]["below_threshold"] and "fewer offers" in mine["scores"][0]["reason"]
    assert mine["held"][0]["case_id"] == nxt and "quality score" in mine["held"][0]["reasons"][0]
    with app.app_context(), session_scope() as s:
        from gigcx.models import Brand

        factors = ranking.quality_factors(s, s.get(Brand, brand_id), "cards", [ex, good])  # type: ignore[arg-type]
    assert set(factors) == {ex} and factors[ex] < 0.5


def test_shared_payout_account_holds(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api)
    ex, token = expert(api)
    other, _ = expert(api, "other")
    with app.app_context(), session_scope() as s:
        for eid in (ex, other):
            e = s.get(Expert, eid)
            e.stripe_account_id = "acct_shared"  # type: ignore[union-attr]
            s.add(e)
        s.commit()
    cust = customer(app, brand_id)
    case_id = active_case(app, brand_id, ex, cust)
    confirm(app, case_id, cust)
    assert "payout account" in entries(api, token)[case_id]["hold_reasons"][0]


def test_trust_settings_and_identity_secret(app: Any, api: Any) -> None:
    key, _ = setup_brand(api)
    got = api.get("/brand", key).json["trust"]
    assert got["enabled"] is True and got["hold_threshold"] == 1.0 and got["weights"]["same_device"] == 1.0
    r = api.patch("/brand", key, json={"trust": {"weights": {"fast_cycle": 1.0}, "fast_cycle_s": 10}})
    assert r.status_code == 200
    r = api.patch("/brand", key, json={"trust": {"weights": {"repeat_pair": 0}}})
    t = r.json["trust"]
    assert (t["weights"]["fast_cycle"], t["weights"]["repeat_pair"], t["fast_cycle_s"]) == (1.0, 0.0, 10)
    for bad in ({"trust": {"weights": {"nope": 1}}}, {"trust": {"qa_sample_rate": 1.5}}, {"trust": {"x": 1}},
                {"trust": {"hold_threshold": 0}}, {"trust": {"enabled": None}}):
        assert_error(api.patch("/brand", key, json=bad), 422, "invalid")
    assert api.get("/brand", key).json["trust"] == t
    s1 = api.get("/brand/identity-secret", key).json["identity_secret"]
    assert s1.startswith("gcxi_") and api.get("/brand", key).json["identity_secret"] == s1
    assert s1 == api.get("/brand/identity-secret", key).json["identity_secret"]
    staff = {"email": "an@example.com", "password": "password-123", "display_name": "An", "role": "analyst"}
    assert api.post("/staff", key, json=staff).status_code == 201
    analyst = api.post("/staff/token", json={"brand": "acme", "email": staff["email"],
                                             "password": staff["password"]}).json["token"]
    seen = api.get("/brand", analyst).json
    assert "identity_secret" not in seen and seen["trust"] == api.get("/brand", key).json["trust"]
    assert_error(api.get("/brand/identity-secret", analyst), 403, "forbidden")
    rotated = api.post("/brand/identity-secret", key)
    assert rotated.status_code == 201 and rotated.json["identity_secret"] != s1
    assert_error(api.get("/brand/identity-secret"), 401, "unauthorized")
    assert_error(api.get("/trust/flagged"), 401, "unauthorized")
    ex, token = expert(api)
    assert_error(api.get("/trust/flagged", token), 403, "forbidden")
    assert_error(api.get("/trust/flagged/999999", key), 404, "not_found")
