"""What the fake Stripe keeps besides localstripe's store, and Stripe's error answer."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web
from localstripe import server as ls_server

faults: list[dict[str, Any]] = []
request_counts: Counter[str] = Counter()
seq = iter(range(1, 10**9))
balance: dict[str, int] = {}  # available platform balance per currency; absent = unlimited
options: dict[str, Any] = {"reversals_embedded": 10}

json_response = ls_server.json_response
get_post_data = ls_server.get_post_data
unflatten_data = ls_server.unflatten_data


def stripe_error(status: int, message: str, err_type: str = "invalid_request_error",
                 **extra: Any) -> web.Response:
    body = {"error": {"type": err_type, "message": message, **extra}}
    return json_response(body, status=status)
