"""Launcher and client for a localstripe subprocess extended with the Connect endpoints GigCX uses.

Run as a script (``python tests/stripe_fake.py --port 0``) it serves localstripe's aiohttp app
on 127.0.0.1, adds fake Connect routes (accounts, account links, transfers, transfer reversals),
honours ``Idempotency-Key`` on every POST /v1/ route like real Stripe (same key and same params
give the same answer; same key and other params give a 400 idempotency_error), and accepts
fault injection on ``/_test/faults``. It prints ``LOCALSTRIPE_PORT=<port>`` once listening.

Imported, it offers :class:`LocalStripe`, which starts that script in a subprocess and talks to
its ``/_config`` and ``/_test`` routes. The importing side needs no aiohttp or localstripe import.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Optional

API_KEY = "sk_test_gigcx_localstripe"
PORT_LINE = "LOCALSTRIPE_PORT="


# --------------------------------------------------------------------------------------------
# Client side (imported by tests)
# --------------------------------------------------------------------------------------------

class LocalStripe:
    """A localstripe subprocess on a free 127.0.0.1 port, with helpers for its config routes."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.startup_timeout = startup_timeout
        self.api_key = API_KEY
        self.port: Optional[int] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log_path = ""

    @property
    def url(self) -> str:
        """Base URL to give the Stripe SDK as its api base."""
        if self.port is None:
            raise RuntimeError("LocalStripe is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalStripe:
        """Start the subprocess and wait until it listens."""
        fd, self._log_path = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
        log = os.fdopen(fd, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self._proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--port", "0"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        log.close()
        atexit.register(self.stop)  # never leave our subprocess behind, even if a test run aborts
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"localstripe exited early:\n{self.log()}")
            for line in self.log().splitlines():
                if line.startswith(PORT_LINE):
                    self.port = int(line[len(PORT_LINE):])
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"localstripe did not start in time:\n{self.log()}")

    def log(self) -> str:
        """The subprocess's output so far (useful in assertion messages)."""
        try:
            with open(self._log_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the subprocess we started (by its own pid) and remove its log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log_path:
            try:
                os.unlink(self._log_path)
            except OSError:
                pass

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.api_key}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def reset(self) -> None:
        """Forget every object, idempotency record, fault and webhook-free state."""
        self._call("DELETE", "/_config/data")
        self._call("DELETE", "/_test/faults")

    def register_webhook(self, name: str, url: str, secret: str,
                         events: Optional[list[str]] = None) -> None:
        """Ask localstripe to POST signed events to `url` (about one second late)."""
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        self._call("POST", f"/_config/webhooks/{name}", body)

    def add_fault(self, mode: str, *, path: str = "/v1/transfers", method: str = "POST",
                  count: int = 1, delay: float = 0.0, skip: int = 0) -> None:
        """Make the next `count` matching requests misbehave.

        Modes: ``error_500`` (answer a Stripe-shaped 500, create nothing), ``timeout``
        (sleep `delay` seconds, then answer 500 without creating anything), ``drop_after_commit``
        (perform the request at "Stripe", then close the connection without answering),
        ``card_declined`` (perform it, then answer Stripe's 402 card_error, which localstripe never
        gives for a PaymentIntent created with confirm=true). Each outcome of a request with an
        Idempotency-Key is kept and replayed for that key, errors included, as Stripe does.
        """
        self._call("POST", "/_test/faults", {"mode": mode, "path": path, "method": method,
                                             "count": count, "delay": delay, "skip": skip})

    def add_status_fault(self, status: int, *, code: str = "", path: str = "/v1/transfers",
                         method: str = "GET", count: int = 1, skip: int = 0) -> None:
        """The next `count` matching requests answer `status` (401/403 as authentication errors).

        401/403 (authentication) and 502/503/504 (Stripe's edge) happen before the API runs, so
        Stripe keeps nothing under the idempotency key; any other status is the key's first
        outcome and is replayed like Stripe does. `skip` lets that many matching requests pass first.
        """
        self._call("POST", "/_test/faults", {"mode": "status", "status": status, "code": code,
                                             "path": path, "method": method, "count": count,
                                             "skip": skip})

    def set_balance(self, currency: str, cents: Optional[int]) -> None:
        """The platform's available balance in a currency (None: unlimited, the default)."""
        self._call("POST", "/_test/balance", {"currency": currency, "cents": cents})

    def configure(self, **options: Any) -> None:
        """Test options: `reversals_embedded` (how many reversals an event embeds, default 10)."""
        self._call("POST", "/_test/config", options)

    def reverse(self, transfer_id: str, amount: Optional[int] = None) -> dict[str, Any]:
        """Reverse (part of) a transfer, as the platform would in the dashboard."""
        body: dict[str, Any] = {} if amount is None else {"amount": amount}
        result: dict[str, Any] = self._call("POST", f"/_test/transfers/{transfer_id}/reverse", body)
        return result

    def transfers(self) -> list[dict[str, Any]]:
        """Every transfer the server holds (test-only view, no faults)."""
        result: list[dict[str, Any]] = self._call("GET", "/_test/transfers")
        return result

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self._call("DELETE", "/_test/faults")

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """Mark a connected account fully onboarded and emit account.updated."""
        result: dict[str, Any] = self._call("POST", f"/_test/accounts/{account_id}/complete", {})
        return result

    def request_count(self, method: str, path: str) -> int:
        """How many requests the server saw for method+path (e.g. to count transfer creations)."""
        counts: dict[str, int] = self._call("GET", "/_test/requests")
        return counts.get(f"{method} {path}", 0)


# --------------------------------------------------------------------------------------------
# Server side (runs only in the subprocess)
# --------------------------------------------------------------------------------------------

def _build_app() -> Any:  # pragma: no cover - executed in the subprocess
    import asyncio
    import hashlib
    from collections import Counter

    from aiohttp import web
    from localstripe import resources as ls_resources
    from localstripe import server as ls_server
    from localstripe.errors import UserError
    from localstripe.resources import List, StripeObject, random_id, store, try_convert_to_int
    from localstripe.webhooks import schedule_webhook

    # Never persist to /tmp/localstripe.pickle: parallel runs would share and clobber it.
    ls_resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]

    app = ls_server.app
    json_response = ls_server.json_response
    get_post_data = ls_server.get_post_data
    unflatten_data = ls_server.unflatten_data

    faults: list[dict[str, Any]] = []
    request_counts: Counter[str] = Counter()
    seq = iter(range(1, 10**9))
    balance: dict[str, int] = {}  # available platform balance per currency; absent = unlimited
    options: dict[str, Any] = {"reversals_embedded": 10}

    # Stripe accepts return_url with confirm=true; localstripe does not know it.
    original_pi_create = ls_resources.PaymentIntent._api_create.__func__

    def pi_create(cls: Any, return_url: Any = None, **data: Any) -> Any:
        return original_pi_create(cls, **data)

    ls_resources.PaymentIntent._api_create = classmethod(pi_create)

    # Stripe reports what it captured in amount_received; localstripe leaves it out.
    original_pi_export = ls_resources.PaymentIntent._export

    def pi_export(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original_pi_export(self, *args, **kwargs)
        if isinstance(out, dict):
            out["amount_received"] = out.get("amount", 0) if out.get("status") == "succeeded" else 0
        return out

    ls_resources.PaymentIntent._export = pi_export

    def stripe_error(status: int, message: str, err_type: str = "invalid_request_error",
                     **extra: Any) -> web.Response:
        body = {"error": {"type": err_type, "message": message, **extra}}
        return json_response(body, status=status)

    class Account(StripeObject):
        object = "account"
        _id_prefix = "acct_"

        def __init__(self, type: Any = "express", country: Any = "US", email: Any = None,
                     metadata: Any = None, capabilities: Any = None,
                     business_type: Any = None, **kwargs: Any) -> None:
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
            if type not in ("express", "standard", "custom"):
                raise UserError(400, "Invalid account type")
            if metadata is not None and not isinstance(metadata, dict):
                raise UserError(400, "Invalid metadata")
            super().__init__()
            self.type = type
            self.country = country
            self.email = email
            self.business_type = business_type
            self.metadata = metadata or {}
            self.charges_enabled = False
            self.payouts_enabled = False
            self.details_submitted = False
            requested = capabilities or {}
            self.capabilities = {name: "inactive" for name in requested} or {"transfers": "inactive"}
            self.requirements = {"currently_due": ["external_account", "tos_acceptance.date"],
                                 "eventually_due": [], "past_due": [], "disabled_reason": None}
            self.default_currency = "usd"

        def _complete(self) -> None:
            self.charges_enabled = True
            self.payouts_enabled = True
            self.details_submitted = True
            self.capabilities = {name: "active" for name in self.capabilities}
            self.requirements = {"currently_due": [], "eventually_due": [], "past_due": [],
                                 "disabled_reason": None}

    class Transfer(StripeObject):
        object = "transfer"
        _id_prefix = "tr_"

        def __init__(self, amount: Any = None, currency: Any = None, destination: Any = None,
                     metadata: Any = None, transfer_group: Any = None, description: Any = None,
                     source_transaction: Any = None, **kwargs: Any) -> None:
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
            amount = try_convert_to_int(amount)
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise UserError(400, "Invalid positive integer", {"param": "amount"})
            if not isinstance(currency, str) or len(currency) != 3:
                raise UserError(400, "Invalid currency", {"param": "currency"})
            if not isinstance(destination, str) or \
                    store.get("account:" + destination) is None:
                raise UserError(400, f"No such destination: '{destination}'",
                                {"param": "destination", "code": "resource_missing"})
            if metadata is not None and not isinstance(metadata, dict):
                raise UserError(400, "Invalid metadata")
            cur = currency.lower()
            if cur in balance and balance[cur] < amount:
                raise UserError(400, "You have insufficient available funds in your Stripe account.",
                                {"code": "balance_insufficient"})
            if cur in balance:
                balance[cur] -= amount
            super().__init__()
            self._seq = next(seq)
            self.amount = amount
            self.currency = currency.lower()
            self.destination = destination
            self.destination_payment = "py_" + random_id(14)
            self.balance_transaction = "txn_" + random_id(14)
            self.metadata = metadata or {}
            self.transfer_group = transfer_group
            self.description = description
            self.source_transaction = source_transaction
            self.amount_reversed = 0
            self.reversed = False
            self._reversals: list[dict[str, Any]] = []

        @property
        def reversals(self) -> dict[str, Any]:
            shown = self._reversals[:int(options["reversals_embedded"])]
            return {"object": "list", "data": list(shown),
                    "has_more": len(shown) < len(self._reversals),
                    "total_count": len(self._reversals),
                    "url": f"/v1/transfers/{self.id}/reversals"}

    # ---- Connect routes -------------------------------------------------------------------

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

    # ---- test-only routes -----------------------------------------------------------------

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

    # ---- middlewares ----------------------------------------------------------------------

    def take_fault(request: web.Request, transport: bool = False) -> Optional[dict[str, Any]]:
        """The next fault for this request: transport faults (dropped answers) or API ones."""
        for fault in faults:
            if (fault["mode"] == "drop_after_commit") != transport:
                continue
            if fault["method"] == request.method and fault["path"] == request.path:
                if fault["skip"] > 0:  # let this many matching requests through first
                    fault["skip"] -= 1
                    return None
                fault["count"] -= 1
                if fault["count"] <= 0:
                    faults.remove(fault)
                return fault
        return None

    @web.middleware
    async def fault_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        fault = take_fault(request) if request.path.startswith("/v1/") else None
        if fault is None:
            return await handler(request)
        if fault["mode"] == "status":
            status = fault["status"]
            kind = "authentication_error" if status in (401, 403) else \
                "api_error" if status >= 500 else "invalid_request_error"
            extra = {"code": fault["code"]} if fault["code"] else {}
            return stripe_error(status, f"Injected fault: HTTP {status}", kind, **extra)
        if fault["mode"] == "error_500":
            return stripe_error(500, "Injected fault: internal error", "api_error")
        if fault["mode"] == "timeout":
            await asyncio.sleep(fault["delay"])
            return stripe_error(500, "Injected fault: timed out", "api_error")
        if fault["mode"] == "card_declined":  # as Stripe: the object exists, the answer is a 402
            created = json.loads((await handler(request)).body)
            return stripe_error(402, "Your card was declined.", "card_error", code="card_declined",
                                decline_code="generic_decline",
                                payment_intent={"id": created.get("id"), "object": "payment_intent",
                                                "status": "requires_payment_method"})
        return await handler(request)

    idempotency: dict[tuple[str, str], tuple[str, int, bytes]] = {}
    # Answers given before an API endpoint runs: Stripe keeps no outcome under the key for them.
    EDGE_STATUSES = (401, 403, 409, 429, 502, 503, 504)  # noqa: N806 - a constant of the app
    in_flight: set[tuple[str, str]] = set()

    @web.middleware
    async def idempotency_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        """Stripe's rule: the first outcome of a key (success or error) is replayed for 24 hours.

        Authentication failures happen before the key is looked at and are not kept; a second
        request while the first is still running gets 409.
        """
        if not request.path.startswith("/_"):
            request_counts[f"{request.method} {request.path}"] += 1
        drop = take_fault(request, transport=True) if request.path.startswith("/v1/") else None
        response = await idempotent(request, handler)
        if drop is not None and request.transport is not None:
            # drop_after_commit: the request took effect (or was replayed); the answer is lost.
            request.transport.abort()
        return response  # written to an aborted transport: the client sees a reset

    async def idempotent(request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        scope = (request.headers.get("Authorization", ""), key)
        body = await request.read()
        fingerprint = hashlib.sha256(request.path.encode() + b"\0" + body).hexdigest()
        cached = idempotency.get(scope)
        if cached is not None:
            if cached[0] != fingerprint:
                return stripe_error(
                    400, "Keys for idempotent requests can only be used with the same "
                         "parameters they were first used with.", "idempotency_error")
            resp = web.Response(body=cached[2], status=cached[1],
                                content_type="application/json")
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        if scope in in_flight:
            return stripe_error(409, "There is currently another in-progress request using this "
                                     "Idempotent Key.", "idempotency_error", code="idempotency_key_in_use")
        in_flight.add(scope)
        try:
            try:
                response = await handler(request)
            except UserError as exc:
                response = exc.to_response()
        finally:
            in_flight.discard(scope)
        if isinstance(response, web.Response) and response.status not in EDGE_STATUSES \
                and isinstance(response.body, bytes):
            idempotency[scope] = (fingerprint, response.status, response.body)
        return response

    original_flush = store.clear

    def clear_all() -> None:
        original_flush()
        idempotency.clear()

    store.clear = clear_all  # type: ignore[method-assign]

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


def _serve(port: int) -> None:  # pragma: no cover - executed in the subprocess
    import socket

    from aiohttp import web

    app = _build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # accept (queue) connections before the event loop runs
    print(f"{PORT_LINE}{sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    _serve(parser.parse_args().port)
