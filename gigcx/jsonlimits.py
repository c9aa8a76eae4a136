"""JSON from clients is bounded in depth: deeply nested input is refused as `invalid`, never a 500.

Python's parser recurses once per level and raised RecursionError (a `500` on every JSON
endpoint, anonymous ones included) for about a thousand levels; no request of the API needs more
than a few. REST bodies go through `BoundedJSONProvider` (Flask's JSON), Socket.IO packets through
`SocketJSON`.
"""
from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32
#: what a Socket.IO packet decodes to when its JSON is too deep (or not JSON): an event the
#: namespaces refuse with `invalid`
TOO_DEEP_EVENT = "\x00unreadable"


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def depth(data: Any) -> int:
    """How deeply lists and objects nest in `data` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads`, refusing input nested deeper than MAX_DEPTH with `TooDeep`."""
    try:
        data = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if depth(data) > MAX_DEPTH:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    return data


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, answering over-deep request bodies with `422 invalid`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        from gigcx.errors import ApiError

        try:
            return loads(s, **kwargs)
        except TooDeep as exc:  # not a ValueError for werkzeug: `get_json(silent=True)` must not hide it
            raise ApiError("invalid", str(exc)) from None


class SocketJSON:
    """The JSON module of Socket.IO packets: an over-deep or malformed payload becomes an event that
    every namespace answers with `invalid` (the connection stays up, as for any bad payload),
    instead of an exception in the packet decoder (logged with a traceback, and no ack)."""

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return json.dumps(*args, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        try:
            return loads(text, **kwargs)
        except ValueError:  # TooDeep, or not JSON at all
            return [TOO_DEEP_EVENT]
