"""The fake Stripe's aiohttp app: localstripe's, with the Connect, test and middleware parts."""

from __future__ import annotations

from typing import Any

from localstripe import server as ls_server

from .connect import (
    create_account,
    create_account_link,
    create_transfer,
    list_accounts,
    list_reversals,
    list_transfers,
    retrieve_account,
    retrieve_transfer,
    reverse_transfer,
    update_account,
)
from .control import (
    add_fault,
    clear_faults,
    complete_account,
    get_requests,
    onboarding_page,
    set_balance,
    set_config,
    test_reverse,
    test_transfers,
)
from .middleware import clear_keys_with_the_store, fault_middleware, idempotency_middleware
from .resources import patch_localstripe


def build_app() -> Any:
    """localstripe's app, patched and extended (once per process: it is localstripe's own)."""
    patch_localstripe()
    clear_keys_with_the_store()
    app = ls_server.app
    app.middlewares.append(idempotency_middleware)  # outside the faults: their outcomes are kept too
    app.middlewares.append(fault_middleware)
    router = app.router
    router.add_post("/v1/accounts", create_account)
    router.add_get("/v1/accounts", list_accounts)
    router.add_get("/v1/accounts/{id}", retrieve_account)
    router.add_post("/v1/accounts/{id}", update_account)
    router.add_post("/v1/account_links", create_account_link)
    router.add_post("/v1/transfers", create_transfer)
    router.add_get("/v1/transfers", list_transfers)
    router.add_get("/v1/transfers/{id}", retrieve_transfer)
    router.add_post("/v1/transfers/{id}/reversals", reverse_transfer)
    router.add_get("/v1/transfers/{id}/reversals", list_reversals)
    router.add_post("/_test/balance", set_balance)
    router.add_post("/_test/config", set_config)
    router.add_post("/_test/transfers/{id}/reverse", test_reverse)
    router.add_get("/_test/transfers", test_transfers)
    router.add_post("/_test/faults", add_fault)
    router.add_delete("/_test/faults", clear_faults)
    router.add_get("/_test/requests", get_requests)
    router.add_post("/_test/accounts/{id}/complete", complete_account)
    router.add_get("/_test/onboarding/{id}", onboarding_page)
    return app
