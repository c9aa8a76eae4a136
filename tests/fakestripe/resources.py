"""The Connect objects localstripe lacks (Account, Transfer), and fixes to its PaymentIntent."""

from __future__ import annotations

from typing import Any

from localstripe import resources as ls_resources
from localstripe.errors import UserError
from localstripe.resources import StripeObject, random_id, store, try_convert_to_int

from .state import balance, options, seq


def patch_localstripe() -> None:
    """Make localstripe answer like Stripe where GigCX depends on it."""
    # Never persist to /tmp/localstripe.pickle: parallel runs would share and clobber it.
    ls_resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]

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
