"""Retention and erasure: old conversations lose their text and customers are anonymised, one
customer's data is exported and erased on request, while cases, ratings and the ledger keep
their numbers."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from gigcx import security
from gigcx.models import (
    Brand,
    Case,
    Customer,
    Expert,
    LedgerEntry,
    LedgerTransaction,
    Message,
    Rating,
    ReusableAnswer,
)
from gigcx.services.privacy import REDACTED, retention_sweep
from gigcx.uow import unit_of_work
from tests.conftest import Api, assert_error

NOW = datetime.now(UTC)
SECRET = "Maria Lopez, maria.lopez@example.com, +34 612 34 56 78"


def seed_customer(app: Any, brand_id: int, *, age_days: int, token: str = "tok", open_case: bool = False) -> dict[str, Any]:
    """A customer with a resolved, rated, paid case `age_days` old (and optionally an open one)."""
    with Session(app.extensions["gigcx_engine"]) as s:
        expert = Expert(email=f"e{token}@x.io", password_hash="x", display_name="Ana", languages=["en"])
        customer = Customer(brand_id=brand_id, token_hash=security.token_hash(token),
                            created_at=NOW - timedelta(days=age_days + 1), language="es")
        s.add_all([expert, customer])
        s.flush()
        when = NOW - timedelta(days=age_days)
        case = Case(brand_id=brand_id, customer_id=customer.id, client_id="c1", question=f"I'm {SECRET}: card lost",  # type: ignore[arg-type]
                    topic="cards", status="resolved", expert_id=expert.id, created_at=when - timedelta(hours=1),
                    resolved_at=when, last_seq=3, reward_cents=300, escalation_reason=None,
                    review_verdict="approve", review_note=f"fine, {SECRET}")
        s.add(case)
        s.flush()
        s.add_all([Message(case_id=case.id, seq=1, sender="customer", text=case.question),  # type: ignore[arg-type]
                   Message(case_id=case.id, seq=2, sender="expert", text="Hi Maria, blocked it for you."),  # type: ignore[arg-type]
                   Message(case_id=case.id, seq=3, sender="system", text="The expert marked this question as solved."),  # type: ignore[arg-type]
                   Rating(case_id=case.id, expert_id=expert.id, csat=5, nps=9, comment=f"thanks! {SECRET}"),  # type: ignore[arg-type]
                   ReusableAnswer(brand_id=brand_id, case_id=case.id, topic="cards", question="card lost",  # type: ignore[arg-type]
                                  answer="We blocked it for you.", scrubbed="We blocked it for you.")])
        tx = LedgerTransaction(key=f"reward:{case.id}", kind="reward", brand_id=brand_id, expert_id=expert.id,
                               case_id=case.id, memo=f"reward for case {case.id} (cards)")
        s.add(tx)
        s.flush()
        s.add_all([LedgerEntry(transaction_id=tx.id, account=f"brand:{brand_id}", amount_cents=-300, currency="usd"),  # type: ignore[arg-type]
                   LedgerEntry(transaction_id=tx.id, account=f"expert:{expert.id}:pending", amount_cents=300, currency="usd")])  # type: ignore[arg-type]
        out = {"customer": customer.id, "case": case.id, "expert": expert.id}
        if open_case:
            live = Case(brand_id=brand_id, customer_id=customer.id, client_id="c2", question=f"again, {SECRET}",  # type: ignore[arg-type]
                        status="active", expert_id=expert.id, last_seq=1)
            s.add(live)
            s.flush()
            s.add(Message(case_id=live.id, seq=1, sender="customer", text=live.question))  # type: ignore[arg-type]
            out["open"] = live.id
        s.commit()
        return out


def texts(app: Any, case_id: int) -> str:
    with Session(app.extensions["gigcx_engine"]) as s:
        case = s.get(Case, case_id)
        msgs = s.exec(select(Message.text).where(Message.case_id == case_id)).all()
        rating = s.exec(select(Rating).where(Rating.case_id == case_id)).first()
        return json.dumps([case.question, case.review_note, case.escalation_reason, case.suggestions,  # type: ignore[union-attr]
                           list(msgs), rating.comment if rating else None])


def money(app: Any) -> list[tuple[Any, ...]]:
    with Session(app.extensions["gigcx_engine"]) as s:
        return [tuple(r) for r in s.exec(select(LedgerEntry.account, LedgerEntry.amount_cents)
                                         .order_by(LedgerEntry.id)).all()]  # type: ignore[arg-type]


@pytest.fixture
def brand(api: Api, app: Any) -> tuple[str, int]:
    key = api.brand("acme")
    with Session(app.extensions["gigcx_engine"]) as s:
        return key, s.exec(select(Brand.id).where(Brand.slug == "acme")).one()


def test_retention_is_a_brand_setting(api: Api, brand: tuple[str, int]) -> None:
    key, _ = brand
    assert api.get("/brand", key).json["retention_days"] is None
    assert api.patch("/brand", key, json={"retention_days": 30}).json["retention_days"] == 30
    assert api.patch("/brand", key, json={"retention_days": None}).json["retention_days"] is None
    assert_error(api.patch("/brand", key, json={"retention_days": 0}), 422, "invalid")
    assert_error(api.patch("/brand", key, json={"offer_timeout_s": None}), 422, "invalid")


def test_retention_redacts_old_conversations_and_keeps_the_numbers(api: Api, app: Any, brand: tuple[str, int]) -> None:
    key, brand_id = brand
    old = seed_customer(app, brand_id, age_days=40, token="old")
    recent = seed_customer(app, brand_id, age_days=5, token="new")
    ledger_before = money(app)
    with app.app_context():
        assert retention_sweep(unit_of_work()) == {"cases": 0, "messages": 0, "customers": 0}  # no period set
    assert api.patch("/brand", key, json={"retention_days": 30}).status_code == 200
    with app.app_context():
        assert retention_sweep(unit_of_work()) == {"cases": 1, "messages": 2, "customers": 1}
        assert retention_sweep(unit_of_work()) == {"cases": 0, "messages": 0, "customers": 0}  # once
    assert "Maria" not in texts(app, old["case"]) and REDACTED in texts(app, old["case"])
    assert "Maria" in texts(app, recent["case"])
    view = api.get(f"/cases/{old['case']}", key).json
    assert view["question"] == REDACTED and view["redacted_at"] and view["customer_id"] == old["customer"]
    assert [m["text"] for m in view["messages"]] == [REDACTED, REDACTED, "The expert marked this question as solved."]
    assert view["status"] == "resolved" and view["reward_cents"] == 300 and view["expert"]["id"] == old["expert"]
    assert view["rating"] == {"csat": 5, "nps": 9, "comment": None}
    assert money(app) == ledger_before
    with Session(app.extensions["gigcx_engine"]) as s:
        gone, kept = s.get(Customer, old["customer"]), s.get(Customer, recent["customer"])
        assert gone.anonymised_at is not None and gone.language is None  # type: ignore[union-attr]
        assert gone.token_hash != security.token_hash("old")  # type: ignore[union-attr]
        assert kept.anonymised_at is None and kept.token_hash == security.token_hash("new")  # type: ignore[union-attr]
    metrics = api.get("/metrics", key).json
    assert metrics["cases"] == 2 and metrics["resolved"] == 2 and metrics["csat_avg"] == 5


def test_export_then_erase_one_customer(api: Api, app: Any, brand: tuple[str, int]) -> None:
    key, brand_id = brand
    ids = seed_customer(app, brand_id, age_days=2, token="maria", open_case=True)
    other = seed_customer(app, brand_id, age_days=2, token="someone")
    with Session(app.extensions["gigcx_engine"]) as s:  # someone else is being shown Maria's answer
        reused = s.exec(select(ReusableAnswer.id).where(ReusableAnswer.case_id == ids["case"])).one()
        waiting = Case(brand_id=brand_id, customer_id=other["customer"], client_id="w", question="card?",
                       status="matching", suggestions=[{"id": reused, "answer": "We blocked it for you.",
                                                        "topic": "cards", "score": 0.9}])
        s.add(waiting)
        s.commit()
        waiting_id = waiting.id
    ledger_before = money(app)

    exported = api.get(f"/customers/{ids['customer']}/export", key)
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    data = json.loads(exported.get_data(as_text=True))
    assert data["customer"]["id"] == ids["customer"] and len(data["cases"]) == 2
    assert SECRET in data["cases"][0]["question"] and data["cases"][0]["rating"]["comment"].endswith(SECRET)
    assert [m["sender"] for m in data["cases"][0]["messages"]] == ["customer", "expert", "system"]

    report = api.delete(f"/customers/{ids['customer']}", key)
    assert report.status_code == 200, report.json
    body = report.json
    assert body["removed"] == {"cases_redacted": 2, "messages_redacted": 3, "open_cases_closed": 1,
                               "reusable_answers_deleted": 1}
    assert body["export"]["cases"][0]["question"] == data["cases"][0]["question"]
    assert any("money" in k["why"] for k in body["kept"]) and any("ledger" in k["what"] for k in body["kept"])
    for case_id in (ids["case"], ids["open"]):
        assert SECRET not in texts(app, case_id) and "Maria" not in texts(app, case_id)
    assert api.get(f"/cases/{ids['open']}", key).json["status"] == "closed"
    assert SECRET in texts(app, other["case"])  # nobody else's data is touched
    assert api.get(f"/cases/{waiting_id}", key).json["suggestions"] == []  # nor shown to anyone
    assert money(app) == ledger_before
    with Session(app.extensions["gigcx_engine"]) as s:
        assert s.exec(select(ReusableAnswer).where(ReusableAnswer.case_id == ids["case"])).first() is None
        assert s.exec(select(ReusableAnswer).where(ReusableAnswer.case_id == other["case"])).first() is not None
        assert s.get(Customer, ids["customer"]).anonymised_at is not None  # type: ignore[union-attr]
    after = json.loads(api.get(f"/customers/{ids['customer']}/export", key).get_data(as_text=True))
    assert SECRET not in json.dumps(after) and after["customer"]["anonymised_at"]
    again = api.delete(f"/customers/{ids['customer']}", key).json
    assert again["already_anonymised"] is True and again["removed"]["cases_redacted"] == 0


def test_erasure_is_brand_scoped_and_admin_only(api: Api, app: Any, brand: tuple[str, int]) -> None:
    key, brand_id = brand
    ids = seed_customer(app, brand_id, age_days=1, token="t")
    other_key = api.brand("other", "Other")
    assert_error(api.get(f"/customers/{ids['customer']}/export", other_key), 404, "not_found")
    assert_error(api.delete(f"/customers/{ids['customer']}", other_key), 404, "not_found")
    assert_error(api.delete("/customers/999999", key), 404, "not_found")
    assert_error(api.delete(f"/customers/{ids['customer']}"), 401, "unauthorized")
    assert api.post("/staff", key, json={"email": "an@acme.io", "password": "password-1", "display_name": "An",
                                         "role": "analyst"}).status_code == 201
    analyst = api.post("/staff/token", json={"brand": "acme", "email": "an@acme.io", "password": "password-1"}).json["token"]
    assert api.get(f"/customers/{ids['customer']}/export", analyst).status_code == 200
    assert_error(api.delete(f"/customers/{ids['customer']}", analyst), 403, "forbidden")
    assert SECRET in texts(app, ids["case"])


def test_cli_applies_retention_and_erases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str,
                                          api: Api, app: Any, brand: tuple[str, int]) -> None:
    key, brand_id = brand
    monkeypatch.setenv("GIGCX_DATABASE_URL", database_url)
    monkeypatch.setenv("GIGCX_INSTANCE_PATH", str(tmp_path / "cli"))
    monkeypatch.setenv("GIGCX_SECRET_KEY", "cli-test")
    from gigcx.cli import cli

    old = seed_customer(app, brand_id, age_days=10, token="a")
    fresh = seed_customer(app, brand_id, age_days=1, token="b")
    api.patch("/brand", key, json={"retention_days": 7})
    result = CliRunner().invoke(cli, ["privacy", "retention"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["cases"] == 1
    assert "Maria" not in texts(app, old["case"])
    out = tmp_path / "export.json"
    result = CliRunner().invoke(cli, ["privacy", "erase", "--brand", "acme", "--customer", str(fresh["customer"]),
                                      "--export", str(out)])
    assert result.exit_code == 0, result.output
    assert SECRET in out.read_text() and "Maria" not in texts(app, fresh["case"])
    assert "bookkeeping" in result.output
    bad = CliRunner().invoke(cli, ["privacy", "erase", "--brand", "nope", "--customer", "1"])
    assert bad.exit_code != 0 and "unknown brand" in bad.output


def test_database_errors_and_logs_carry_no_message_text(app: Any, brand: tuple[str, int],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """SQL parameters (message text) are never rendered into errors, hence never into logs."""
    _, brand_id = brand
    ids = seed_customer(app, brand_id, age_days=1, token="dup")
    from sqlalchemy.exc import IntegrityError

    with Session(app.extensions["gigcx_engine"]) as s, pytest.raises(IntegrityError) as err:
        s.add(Message(case_id=ids["case"], seq=1, sender="customer", text=f"duplicate seq {SECRET}"))
        s.flush()
    assert SECRET not in str(err.value)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("gigcx.test").exception("failed", exc_info=err.value)
    assert SECRET not in caplog.text
