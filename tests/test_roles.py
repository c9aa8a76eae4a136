"""Roles are declared on every REST view and Socket.IO event, keyed by endpoint, and a call to
anything undeclared is refused. The declarations are written down here, so a change of who may
call what shows up in review."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from gigcx import auth
from gigcx.realtime import brand, customer, expert
from gigcx.realtime.common import RoleNamespace

#: Declared roles -> endpoints (PUBLIC, `()`: no bearer needed; the view checks its own token,
#: signature or link if it has one).
DECLARED: dict[tuple[str, ...], set[str]] = {
    (): {
        'api.create_expert',
        'api.create_token',
        'api.public_program',
        'api.staff_token',
        'consoles.brand_console',
        'consoles.expert_console',
        'consoles.home',
        'consoles.static',
        'consoles.vendor',
        'openapi.doc_url',
        'openapi.openapi',
        'openapi.static',
        'ops.health',
        'ops.prometheus',
        'static',
        'unsubscribe.unsubscribe',
        'web.demo',
        'web.static',
        'web.widget_js',
        'webhooks.stripe_webhook',
    },
    ('brand',): {
        'api.brand_quality',
        'api.brand_spend_statement',
        'api.export_cases',
        'api.export_customer',
        'api.export_metrics',
        'api.get_answer',
        'api.get_brand',
        'api.get_brand_notifications',
        'api.get_case',
        'api.get_flagged',
        'api.get_metrics',
        'api.get_staff_notifications',
        'api.get_webhook_delivery',
        'api.get_webhook_endpoint',
        'api.list_answers',
        'api.list_cases',
        'api.list_decisions',
        'api.list_flagged',
        'api.list_programs',
        'api.list_staff',
        'api.list_topics',
        'api.list_webhook_deliveries',
        'api.list_webhook_endpoints',
        'api.put_staff_notifications',
        'api.staff_me',
        'api.webhook_event_types',
    },
    ('brand_admin',): {
        'api.approve_answer',
        'api.approve_expert',
        'api.create_staff',
        'api.create_webhook_endpoint',
        'api.decide_flagged',
        'api.delete_webhook_endpoint',
        'api.erase_customer',
        'api.fund_brand_budget',
        'api.get_identity_secret',
        'api.patch_answer',
        'api.patch_brand',
        'api.put_brand_notifications',
        'api.put_topic',
        'api.qa_verdict',
        'api.reject_answer',
        'api.reject_expert',
        'api.remove_staff',
        'api.replay_webhook_delivery',
        'api.review_case_verdict',
        'api.rotate_api_key',
        'api.rotate_identity_secret',
        'api.rotate_webhook_secret',
        'api.suspend_expert',
        'api.update_webhook_endpoint',
    },
    ('expert',): {
        'api.apply_to_program',
        'api.expert_earnings',
        'api.expert_payout_account',
        'api.expert_payout_account_status',
        'api.get_expert_notifications',
        'api.my_profile',
        'api.my_quality',
        'api.put_expert_notifications',
    },
    ('operator',): {
        'api.create_brand',
        'api.decide_reversal',
        'api.delete_budget_policy',
        'api.list_payouts',
        'api.list_reversals',
        'api.mark_batch_paid',
        'api.put_budget_policy',
        'api.put_platform_fee',
        'api.record_brand_funding',
        'api.retry_payouts',
        'api.run_payouts',
        'api.settle_payout',
    },
    ('expert', 'brand'): {
        'api.revoke_token',
    },
    ('operator', 'expert'): {
        'api.payout_statement',
    },
}
NAMESPACES: list[RoleNamespace] = [customer.namespace, expert.namespace, brand.namespace]


def test_every_endpoint_declares_the_roles_it_had(app: Any) -> None:
    table = app.extensions["gigcx_roles"]
    assert table.undeclared() == []
    actual: dict[tuple[str, ...], set[str]] = {}
    for endpoint in app.view_functions:
        actual.setdefault(table.lookup(endpoint), set()).add(endpoint)
    assert actual == DECLARED


def test_every_socket_event_declares_its_roles_and_its_namespace_may_send_it() -> None:
    for ns in NAMESPACES:
        handlers = [name for name in dir(type(ns)) if name.startswith("on_")]
        assert {"on_connect", "on_disconnect", "on_message", "on_sync"} <= set(handlers)
        for name in handlers:
            roles = auth.declared(getattr(type(ns), name))
            assert roles is not None, f"{ns.namespace} {name} declares no roles"
            assert roles == auth.PUBLIC or ns.role in roles, (ns.namespace, name, roles)
            assert (roles == auth.PUBLIC) == (name in ("on_connect", "on_disconnect")), (ns.namespace, name)


def test_a_view_without_a_declaration_is_refused(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    with caplog.at_level(logging.ERROR, logger="gigcx.auth"):
        resp = app.test_client().get("/undeclared")
    assert resp.status_code == 403 and b"secret" not in resp.data
    assert "'undeclared' declares no roles" in caplog.text


def test_a_declared_view_added_later_is_checked() -> None:
    @auth.requires("operator")
    def late() -> str:
        return "x"

    assert auth.declared(late) == ("operator",)
    with pytest.raises(ValueError):
        auth.requires()


def test_an_event_without_a_declaration_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    class Loose(RoleNamespace):
        role = "expert"

        def on_peek(self, data: Any) -> dict[str, Any]:
            return {"secret": True}

        @auth.requires("customer")
        def on_ask_for_customers(self, data: Any) -> dict[str, Any]:
            return {}

    ns = Loose.__new__(Loose)  # no registration: only the gate is under test
    ns.namespace = "/loose"
    with caplog.at_level(logging.ERROR, logger="gigcx.realtime"):
        refused = ns._refused("peek", "on_peek")
    assert refused is not None and refused.code == "forbidden"
    assert "on_peek declares no roles" in caplog.text
    other = ns._refused("ask_for_customers", "on_ask_for_customers")
    assert other is not None and other.code == "forbidden"
    assert ns._refused("connect", "on_connect") is None  # no handler of its own: Flask-SocketIO's
