"""End-to-end tests of gigcx.stripe_gateway: the real stripe SDK over HTTP against localstripe."""

from __future__ import annotations

import json
import time

import pytest
from stripe_fixture import WEBHOOK_SECRET, sign_payload

from gigcx.stripe_gateway import (
    AccountUpdated,
    PaymentSucceeded,
    PayoutUpdate,
    PermanentGatewayError,
    StripeGateway,
    TransferReversed,
    UnhandledEvent,
    WebhookVerificationError,
    is_newer,
    map_event,
    transfer_group_for,
)
from payouts import Money, PayoutOrder, Refused, Sent, Unknown, Waiting


def _onboarded_account(gw: StripeGateway, expert_id: str = "42") -> str:
    return gw.create_expert_account(expert_id, email=f"e{expert_id}@example.com").account_id


def test_gateway_uses_its_own_client_not_global_key(stripe_gateway: StripeGateway) -> None:
    import stripe

    assert stripe.api_key is None
    assert stripe_gateway.client is not None


def test_create_account_link_and_status(stripe_gateway: StripeGateway, localstripe) -> None:
    acct = stripe_gateway.create_expert_account("42", email="e42@example.com")
    assert acct.account_id.startswith("acct_")
    assert acct.expert_id == "42"
    assert not acct.ready_for_payouts and not acct.details_submitted

    link = stripe_gateway.create_account_link(acct.account_id, "https://app.example/refresh",
                                              "https://app.example/return")
    assert link.url.startswith("http") and link.expires_at > time.time()

    localstripe.complete_onboarding(acct.account_id)
    status = stripe_gateway.retrieve_account(acct.account_id)
    assert status.payouts_enabled and status.charges_enabled and status.details_submitted
    assert status.ready_for_payouts and status.expert_id == "42"


def test_account_creation_is_idempotent_per_expert(stripe_gateway: StripeGateway) -> None:
    first = stripe_gateway.create_expert_account("7")
    again = stripe_gateway.create_expert_account("7")
    assert first.account_id == again.account_id


def test_unknown_account_is_permanent_error(stripe_gateway: StripeGateway) -> None:
    with pytest.raises(PermanentGatewayError) as info:
        stripe_gateway.retrieve_account("acct_doesnotexist")
    assert info.value.http_status == 404 and not info.value.temporary


def order(uid: str, dest: str | None, cents: int, currency: str = "eur", attempt: int = 0) -> PayoutOrder:
    return PayoutOrder(payout_id="1", uid=uid, attempt=attempt, expert_id="42",
                       amount=Money(cents, currency), destination=dest)


def test_transfer_has_idempotency_metadata_and_group(stripe_gateway: StripeGateway, localstripe) -> None:
    dest = _onboarded_account(stripe_gateway)
    o = order("7c1e-p1", dest, 1500, "EUR")
    tr = stripe_gateway.create_transfer(o)
    assert tr.created_now and tr.payout_uid == "7c1e-p1"
    assert (tr.amount_cents, tr.currency, tr.destination) == (1500, "eur", dest)
    # Same idempotency key and params: Stripe replays the same transfer.
    again = stripe_gateway.create_transfer(o)
    assert again.transfer_id == tr.transfer_id
    raw = stripe_gateway.client.v1.transfers.retrieve(tr.transfer_id)
    assert raw.transfer_group == transfer_group_for("7c1e-p1") == o.group
    # Only the random uid goes to Stripe: no database id a restore could reuse.
    assert raw.metadata.to_dict() == {"gigcx_payout": "7c1e-p1"}
    assert o.idempotency_key == "gigcx-transfer-7c1e-p1"
    assert order("u", dest, 1, attempt=2).idempotency_key == "gigcx-transfer-u-2"
    assert localstripe.request_count("POST", "/v1/transfers") == 2
    listed = list(stripe_gateway.client.v1.transfers.list(
        params={"transfer_group": o.group}).auto_paging_iter())
    assert [t.id for t in listed] == [tr.transfer_id]


def test_same_idempotency_key_other_params_is_refused(stripe_gateway: StripeGateway) -> None:
    dest = _onboarded_account(stripe_gateway)
    stripe_gateway.create_transfer(order("p2", dest, 1500))
    with pytest.raises(PermanentGatewayError):
        stripe_gateway.create_transfer(order("p2", dest, 1600))


def test_retry_after_lost_answer_finds_transfer_and_sends_no_second(
        stripe_gateway: StripeGateway, localstripe) -> None:
    """Crash between Stripe's answer and our commit: the retry must reconcile, not re-send."""
    dest = _onboarded_account(stripe_gateway)
    localstripe.add_fault("drop_after_commit")
    lost = stripe_gateway.send_payout(order("p3", dest, 2500))
    assert isinstance(lost, Unknown) and not lost.rekey  # no answer: same key next time
    # The transfer exists at "Stripe" although we never saw the answer. The retry looks it up
    # first and sends no second POST, so it stays safe after the 24h idempotency window.
    result = stripe_gateway.send_payout(order("p3", dest, 2500))
    assert isinstance(result, Sent) and not result.created_now
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert [t["id"] for t in localstripe.transfers()] == [result.reference]


def test_lost_answer_then_lookup_401_is_unknown_not_refused(stripe_gateway: StripeGateway, localstripe) -> None:
    """The issue's scenario at the gateway: a refused look-up proves nothing."""
    dest = _onboarded_account(stripe_gateway)
    localstripe.add_fault("drop_after_commit")
    assert isinstance(stripe_gateway.send_payout(order("p401", dest, 1400)), Unknown)
    localstripe.add_status_fault(401, path="/v1/transfers", method="GET")
    out = stripe_gateway.send_payout(order("p401", dest, 1400))
    assert isinstance(out, Unknown) and "401" in out.reason
    assert localstripe.request_count("POST", "/v1/transfers") == 1
    assert isinstance(stripe_gateway.send_payout(order("p401", dest, 1400)), Sent)
    assert len(localstripe.transfers()) == 1


def test_sdk_retries_reuse_idempotency_key(localstripe) -> None:
    gw = StripeGateway(localstripe.api_key, api_base=localstripe.url, max_network_retries=2)
    dest = _onboarded_account(gw)
    localstripe.add_fault("drop_after_commit")
    tr = gw.create_transfer(order("p4", dest, 900))
    assert localstripe.request_count("POST", "/v1/transfers") == 2  # original + SDK retry
    assert gw.find_transfer("p4") is not None
    assert len(localstripe.transfers()) == 1
    assert tr.amount_cents == 900


def test_server_error_is_kept_under_its_key_so_the_next_attempt_rekeys(
        stripe_gateway: StripeGateway, localstripe) -> None:
    dest = _onboarded_account(stripe_gateway)
    localstripe.add_fault("error_500")
    out = stripe_gateway.send_payout(order("p5", dest, 1000))
    assert isinstance(out, Unknown) and out.rekey and "500" in out.reason
    assert stripe_gateway.find_transfer("p5") is None
    # Stripe replays the 500 for that key, as it does for every first outcome.
    again = stripe_gateway.send_payout(order("p5", dest, 1000))
    assert isinstance(again, Unknown) and "500" in again.reason
    ok = stripe_gateway.send_payout(order("p5", dest, 1000, attempt=1))
    assert isinstance(ok, Sent) and ok.created_now
    later = stripe_gateway.send_payout(order("p5", dest, 1000, attempt=1))
    assert isinstance(later, Sent) and later.reference == ok.reference and not later.created_now
    assert len(localstripe.transfers()) == 1


def test_timeout_is_unknown(stripe_gateway: StripeGateway, localstripe) -> None:
    dest = _onboarded_account(stripe_gateway)
    quick = StripeGateway(localstripe.api_key, api_base=localstripe.url, timeout_seconds=0.5,
                          max_network_retries=0)
    localstripe.add_fault("timeout", delay=1.5)
    out = quick.send_payout(order("p5t", dest, 1000))
    assert isinstance(out, Unknown) and not out.rekey


def test_definite_refusal_with_clean_lookup_is_refused(stripe_gateway: StripeGateway, localstripe) -> None:
    out = stripe_gateway.send_payout(order("p6", "acct_missing", 700))
    assert isinstance(out, Refused) and "No such destination" in out.reason
    # A refusal whose proving look-up fails stays unknown.
    dest = _onboarded_account(stripe_gateway)
    localstripe.add_status_fault(400, code="parameter_invalid", path="/v1/transfers", method="POST")
    localstripe.add_status_fault(403, path="/v1/transfers", method="GET", skip=1)
    out = stripe_gateway.send_payout(order("p6b", dest, 700))
    assert isinstance(out, Unknown) and out.rekey


def test_balance_insufficient_waits(stripe_gateway: StripeGateway, localstripe) -> None:
    dest = _onboarded_account(stripe_gateway)
    localstripe.set_balance("eur", 500)
    out = stripe_gateway.send_payout(order("p8", dest, 700))
    assert isinstance(out, Waiting) and out.rekey and "balance_insufficient" in out.reason
    localstripe.set_balance("eur", 5000)
    # The first key keeps its refusal; the next attempt's key goes through.
    assert isinstance(stripe_gateway.send_payout(order("p8", dest, 700)), Waiting)
    assert isinstance(stripe_gateway.send_payout(order("p8", dest, 700, attempt=1)), Sent)


def test_find_transfer_paginates(stripe_gateway: StripeGateway) -> None:
    dest = _onboarded_account(stripe_gateway)
    for i in range(3):
        stripe_gateway.create_transfer(order(f"q{i}", dest, 100 + i))
    found = stripe_gateway.find_transfer("q1")
    assert found is not None and found.amount_cents == 101
    pages = stripe_gateway.client.v1.transfers.list(params={"limit": 1, "destination": dest})
    assert len(list(pages.auto_paging_iter())) == 3


def test_send_payout_mismatched_existing_transfer_is_unknown(stripe_gateway: StripeGateway) -> None:
    dest = _onboarded_account(stripe_gateway)
    stripe_gateway.create_transfer(order("p7", dest, 100))
    out = stripe_gateway.send_payout(order("p7", dest, 200))
    assert isinstance(out, Unknown) and "payout_mismatch" in out.reason


def test_payee_check_needs_active_transfers_and_payouts(stripe_gateway: StripeGateway, localstripe) -> None:
    acct = stripe_gateway.create_expert_account("55").account_id
    assert not stripe_gateway.check_payee(acct).ready
    assert not stripe_gateway.check_payee(None).ready
    localstripe.complete_onboarding(acct)
    assert stripe_gateway.check_payee(acct).ready


def test_reversals_are_paged(stripe_gateway: StripeGateway, localstripe) -> None:
    dest = _onboarded_account(stripe_gateway)
    tr = stripe_gateway.create_transfer(order("rv", dest, 1000))
    for _ in range(3):
        localstripe.reverse(tr.transfer_id, 100)
    reversals = stripe_gateway.list_reversals(tr.transfer_id)
    assert [a for _, a in reversals] == [100, 100, 100] and len({r for r, _ in reversals}) == 3


def test_fund_brand_budget_with_payment_intent(stripe_gateway: StripeGateway) -> None:
    funding = stripe_gateway.fund_brand_budget("b9", 5000, "EUR", "fund-b9-1",
                                               payment_method="pm_card_visa", confirm=True)
    assert funding.succeeded and funding.brand_id == "b9"
    assert (funding.amount_cents, funding.currency) == (5000, "eur")
    again = stripe_gateway.fund_brand_budget("b9", 5000, "EUR", "fund-b9-1",
                                             payment_method="pm_card_visa", confirm=True)
    assert again.payment_intent_id == funding.payment_intent_id


def test_declined_card_is_permanent(stripe_gateway: StripeGateway) -> None:
    with pytest.raises(PermanentGatewayError):
        stripe_gateway.fund_brand_budget("b9", 5000, "eur", "fund-b9-2",
                                         payment_method="pm_card_chargeCustomerFail", confirm=True)


def _event(etype: str, obj: dict, created: int | None = None, **extra: object) -> bytes:
    return json.dumps({"id": f"evt_{etype.replace('.', '_')}", "object": "event", "type": etype,
                       "created": created or int(time.time()), "data": {"object": obj},
                       "api_version": "2024-06-20", "livemode": False, **extra}).encode()


def test_webhook_signature_accepts_valid_and_rejects_tampered(stripe_gateway: StripeGateway) -> None:
    payload = _event("transfer.reversed", {
        "id": "tr_1", "object": "transfer", "amount": 500, "amount_reversed": 500,
        "currency": "eur", "metadata": {"gigcx_payout": "p1"},
        "reversals": {"object": "list", "data": [{"id": "trr_1", "object": "transfer_reversal"}]}})
    event = stripe_gateway.parse_webhook(payload, sign_payload(payload))
    assert isinstance(event, TransferReversed)
    assert (event.payout_uid, event.amount_reversed_cents) == ("p1", 500)
    assert event.reversal_ids == ("trr_1",)

    tampered = payload.replace(b'"amount_reversed": 500', b'"amount_reversed": 5')
    with pytest.raises(WebhookVerificationError):
        stripe_gateway.parse_webhook(tampered, sign_payload(payload))
    with pytest.raises(WebhookVerificationError):
        stripe_gateway.parse_webhook(payload, sign_payload(payload, secret="whsec_other"))
    with pytest.raises(WebhookVerificationError):
        stripe_gateway.parse_webhook(payload, None)
    old = sign_payload(payload, timestamp=int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError):
        stripe_gateway.parse_webhook(payload, old)
    no_secret = StripeGateway("sk_test_x", api_base="http://127.0.0.1:9")
    with pytest.raises(WebhookVerificationError):
        no_secret.parse_webhook(payload, sign_payload(payload))


def test_webhook_mapping_of_each_event_type(stripe_gateway: StripeGateway) -> None:
    def parse(raw: bytes):
        return stripe_gateway.parse_webhook(raw, sign_payload(raw))

    acct = parse(_event("account.updated", {
        "id": "acct_1", "object": "account", "charges_enabled": True, "payouts_enabled": True,
        "details_submitted": True, "metadata": {"expert_id": "5"}, "capabilities": {"transfers": "active"},
        "requirements": {"currently_due": []}}, account="acct_1"))
    assert isinstance(acct, AccountUpdated) and acct.account.ready_for_payouts
    assert acct.account.expert_id == "5"

    paid = parse(_event("payout.paid", {"id": "po_1", "object": "payout", "amount": 300,
                                        "currency": "eur", "status": "paid"}, account="acct_1"))
    assert isinstance(paid, PayoutUpdate) and paid.account_id == "acct_1" and paid.status == "paid"
    failed = parse(_event("payout.failed", {"id": "po_2", "object": "payout", "amount": 300,
                                            "currency": "eur", "status": "failed",
                                            "failure_code": "account_closed"}))
    assert isinstance(failed, PayoutUpdate) and failed.failure_code == "account_closed"

    pi = parse(_event("payment_intent.succeeded", {
        "id": "pi_1", "object": "payment_intent", "amount": 5000, "currency": "eur",
        "metadata": {"brand_id": "3"}}))
    assert isinstance(pi, PaymentSucceeded) and pi.brand_id == "3" and pi.amount_cents == 5000

    other = parse(_event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert isinstance(other, UnhandledEvent) and other.type == "customer.created"


def test_event_ordering_rule() -> None:
    assert is_newer(10, "evt_b", None, None)
    assert is_newer(11, "evt_b", 10, "evt_a")
    assert not is_newer(9, "evt_b", 10, "evt_a")
    assert not is_newer(10, "evt_a", 10, "evt_a")
    assert is_newer(10, "evt_b", 10, "evt_a")
    assert isinstance(map_event({"id": "e", "created": 1, "type": "x", "data": {"object": {}}}),
                      UnhandledEvent)


def test_localstripe_signed_webhook_round_trip(stripe_gateway: StripeGateway, localstripe,
                                              webhook_receiver) -> None:
    """localstripe signs and delivers (late) a payment_intent.succeeded we can verify."""
    localstripe.register_webhook("gigcx", webhook_receiver.url, WEBHOOK_SECRET,
                                 events=["payment_intent.succeeded", "account.updated"])
    funding = stripe_gateway.fund_brand_budget("b1", 1200, "eur", "fund-b1-webhook",
                                               payment_method="pm_card_visa", confirm=True)
    payload, signature = webhook_receiver.wait_for("payment_intent.succeeded",
                                                          funding.payment_intent_id)
    event = stripe_gateway.parse_webhook(payload, signature)
    assert isinstance(event, PaymentSucceeded)
    assert event.payment_intent_id == funding.payment_intent_id and event.brand_id == "b1"
    with pytest.raises(WebhookVerificationError):
        stripe_gateway.parse_webhook(payload.replace(b"1200", b"9999"), signature)

    acct = stripe_gateway.create_expert_account("77")
    localstripe.complete_onboarding(acct.account_id)
    payload, signature = webhook_receiver.wait_for("account.updated", acct.account_id)
    updated = stripe_gateway.parse_webhook(payload, signature)
    assert isinstance(updated, AccountUpdated) and updated.account.ready_for_payouts
