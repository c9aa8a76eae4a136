"""Helpers of the Stripe-mode app tests: Stripe settings, signed webhooks, onboarded experts."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from money_helpers import expert, fire_due_timers, resolved_case
from stripe_fixture import WEBHOOK_SECRET, sign_payload

ROOT = Path(__file__).resolve().parents[2]


def with_stripe(settings: Any, localstripe: Any) -> Any:
    """The test instance's settings, with Stripe configured to point at localstripe (no SDK retries)."""
    settings.stripe_api_key = localstripe.api_key
    settings.stripe_api_base = localstripe.url
    settings.stripe_webhook_secret = WEBHOOK_SECRET
    settings.stripe_max_network_retries = 0
    settings.stripe_timeout_s = 5
    return settings


def deliver(api: Any, payload: bytes, sig: str | None = None) -> Any:
    """POST a webhook to the app the way Stripe does."""
    return api.client.post("/webhooks/stripe", data=payload, headers={
        "Stripe-Signature": sig if sig is not None else sign_payload(payload),
        "Content-Type": "application/json"})


def event(etype: str, obj: dict[str, Any], created: int | None = None, eid: str | None = None,
          **extra: Any) -> bytes:
    return json.dumps({"id": eid or f"evt_{etype}_{time.time_ns()}", "object": "event",
                       "type": etype, "created": created or int(time.time()),
                       "data": {"object": obj}, **extra}).encode()


def gw(app: Any) -> Any:
    return app.extensions["gigcx_payments"]


def onboarded_expert(app: Any, api: Any, localstripe: Any, name: str = "ex") -> tuple[int, str, str]:
    """An expert with a finished Express account, learned through a signed account.updated."""
    ex_id, token = expert(api, name)
    r = api.post("/experts/me/payout-account", token, json={"return_url": "https://x.test/back"})
    assert r.status_code == 200, r.json
    account_id = r.json["account_id"]
    assert r.json["url"].startswith("http") and r.json["payouts_enabled"] is False
    acct = localstripe.complete_onboarding(account_id)
    resp = deliver(api, event("account.updated", acct))
    assert resp.status_code == 200 and resp.json["outcome"] == "applied", resp.json
    assert api.get("/experts/me/payout-account", token).json == {
        "mode": "stripe", "account_id": account_id, "payouts_enabled": True}
    return ex_id, token, account_id


def available(app: Any, api: Any, brand_id: int, ex_id: int, n: int = 1) -> None:
    for _ in range(n):
        resolved_case(app, brand_id, ex_id)
    fire_due_timers(app)


def transfers_for(app: Any, payout_id: int) -> list[Any]:
    """The transfers at Stripe tagged with the payout's random uid."""
    from gigcx.db import session_scope
    from gigcx.models import Payout

    with app.app_context(), session_scope() as s:
        uid = s.get(Payout, payout_id).uid
    page = gw(app).client.v1.transfers.list(params={"transfer_group": f"gigcx_payout_{uid}"})
    return list(page.auto_paging_iter())


def card(app: Any, number: str) -> str:
    return str(gw(app).client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id)


def stored_payable(app: Any, ex_id: int) -> bool:
    from gigcx.db import session_scope
    from gigcx.models import Expert

    with app.app_context(), session_scope() as s:
        return bool(s.get(Expert, ex_id).payouts_enabled)


def earnings(api: Any, token: str) -> dict[str, Any]:
    return api.get("/experts/me/earnings", token).json  # type: ignore[no-any-return]
