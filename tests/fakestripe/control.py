"""The test-only routes under /_test/: faults, balance, options and shortcuts."""

from __future__ import annotations

from aiohttp import web
from localstripe import resources as ls_resources
from localstripe.resources import store
from localstripe.webhooks import schedule_webhook

from .connect import reverse_transfer
from .resources import Account
from .state import balance, faults, json_response, options, request_counts, stripe_error


async def add_fault(request: web.Request) -> web.Response:
    data = await request.json()
    if data.get("mode") not in ("error_500", "timeout", "drop_after_commit", "card_declined", "status"):
        return stripe_error(400, "unknown fault mode")
    faults.append({"mode": data["mode"], "path": data.get("path", "/v1/transfers"),
                   "method": data.get("method", "POST").upper(),
                   "count": int(data.get("count", 1)), "delay": float(data.get("delay", 0)),
                   "status": int(data.get("status") or 500), "code": data.get("code") or "",
                   "skip": int(data.get("skip") or 0)})
    return json_response({"faults": faults})

async def set_balance(request: web.Request) -> web.Response:
    data = await request.json()
    if data.get("cents") is None:
        balance.pop(str(data["currency"]).lower(), None)
    else:
        balance[str(data["currency"]).lower()] = int(data["cents"])
    return json_response({"balance": balance})

async def set_config(request: web.Request) -> web.Response:
    options.update(await request.json())
    return json_response(options)

async def test_reverse(request: web.Request) -> web.Response:
    return await reverse_transfer(request)

def test_transfers(request: web.Request) -> web.Response:
    items = sorted((v for k, v in store.items() if k.startswith("transfer:")), key=lambda t: t._seq)
    return json_response([t._export() for t in items])

async def clear_faults(request: web.Request) -> web.Response:
    faults.clear()
    request_counts.clear()
    balance.clear()
    options["reversals_embedded"] = 10
    return json_response({"faults": []})

def get_requests(request: web.Request) -> web.Response:
    return json_response(dict(request_counts))

async def complete_account(request: web.Request) -> web.Response:
    acct = Account._api_retrieve(request.match_info["id"])
    acct._complete()
    schedule_webhook(ls_resources.Event("account.updated", acct))
    return json_response(acct._export())

def onboarding_page(request: web.Request) -> web.Response:
    return web.Response(text="fake onboarding for " + request.match_info["id"])
