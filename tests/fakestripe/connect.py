"""The Connect routes: accounts, account links, transfers and their reversals."""

from __future__ import annotations

import time

from aiohttp import web
from localstripe import resources as ls_resources
from localstripe.errors import UserError
from localstripe.resources import List, random_id, store, try_convert_to_int
from localstripe.webhooks import schedule_webhook

from .resources import Account, Transfer
from .state import balance, get_post_data, json_response, unflatten_data


async def create_account(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    data.pop("expand", None)
    return json_response(Account(**data)._export())

def retrieve_account(request: web.Request) -> web.Response:
    return json_response(Account._api_retrieve(request.match_info["id"])._export())

async def update_account(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    acct = Account._api_retrieve(request.match_info["id"])
    acct._update(**data)
    schedule_webhook(ls_resources.Event("account.updated", acct))
    return json_response(acct._export())

def list_accounts(request: web.Request) -> web.Response:
    data = unflatten_data(request.query)
    li = List("/v1/accounts", limit=data.get("limit"),
              starting_after=data.get("starting_after"))
    li._list = sorted((v for k, v in store.items() if k.startswith("account:")),
                      key=lambda a: a.created, reverse=True)
    return json_response(li._export())

async def create_account_link(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    account = data.get("account")
    if not isinstance(account, str):
        raise UserError(400, "Missing required param: account", {"param": "account"})
    Account._api_retrieve(account)
    for param in ("refresh_url", "return_url", "type"):
        if not data.get(param):
            raise UserError(400, f"Missing required param: {param}", {"param": param})
    now = int(time.time())
    return json_response({
        "object": "account_link", "created": now, "expires_at": now + 300,
        "url": f"http://127.0.0.1:{request.url.port}/_test/onboarding/{account}"
               f"?return_url={data['return_url']}"})

async def create_transfer(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    data.pop("expand", None)
    return json_response(Transfer(**data)._export())

def retrieve_transfer(request: web.Request) -> web.Response:
    return json_response(Transfer._api_retrieve(request.match_info["id"])._export())

def list_transfers(request: web.Request) -> web.Response:
    data = unflatten_data(request.query)
    data.pop("expand", None)
    group = data.pop("transfer_group", None)
    destination = data.pop("destination", None)
    limit = data.pop("limit", None)
    starting_after = data.pop("starting_after", None)
    if data:
        raise UserError(400, "Received unknown parameter: " + ", ".join(data))
    li = List("/v1/transfers", limit=limit, starting_after=starting_after)
    items = [v for k, v in store.items() if k.startswith("transfer:")]
    items = [t for t in items if (group is None or t.transfer_group == group)
             and (destination is None or t.destination == destination)]
    li._list = sorted(items, key=lambda t: t._seq, reverse=True)  # newest first, like Stripe
    return json_response(li._export())

def list_reversals(request: web.Request) -> web.Response:
    tr = Transfer._api_retrieve(request.match_info["id"])
    data = unflatten_data(request.query)
    limit = int(data.get("limit") or 10)
    after = data.get("starting_after")
    items = list(tr._reversals)
    if after:
        ids = [r["id"] for r in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    return json_response({"object": "list", "data": page, "has_more": len(items) > len(page),
                          "url": f"/v1/transfers/{tr.id}/reversals"})

async def reverse_transfer(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    tr = Transfer._api_retrieve(request.match_info["id"])
    amount = try_convert_to_int(data.get("amount", tr.amount - tr.amount_reversed))
    if not isinstance(amount, int) or amount <= 0 or amount > tr.amount - tr.amount_reversed:
        raise UserError(400, "Invalid reversal amount", {"param": "amount"})
    reversal = {"id": "trr_" + random_id(14), "object": "transfer_reversal",
                "amount": amount, "currency": tr.currency, "transfer": tr.id,
                "created": int(time.time()), "metadata": data.get("metadata") or {}}
    tr._reversals.append(reversal)
    if tr.currency in balance:
        balance[tr.currency] += amount
    tr.amount_reversed += amount
    tr.reversed = tr.amount_reversed == tr.amount
    schedule_webhook(ls_resources.Event("transfer.reversed", tr))
    return json_response(reversal)
