"""Waiting for what a live server does on its own (a timer, a background job, a disconnect), and
reading its Prometheus metrics."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from tests.servers import ADMIN_TOKEN

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 10, what: str = "condition",
               interval: float = 0.05) -> T:
    """Poll `check` until it returns something true, and return that; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s (last: {value!r})"
        time.sleep(interval)
    return value


def metrics(server: Any) -> dict[str, float]:
    """The server's /metrics samples: `name{labels}` -> value."""
    body = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                        timeout=10).text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
            if line and not line.startswith("#")}


def wait_for_metric(server: Any, sample: str, at_least: float = 1, timeout: float = 15) -> float:
    """Wait until /metrics shows `sample` at `at_least` or more; returns its value."""
    def reached() -> tuple[float] | None:
        value = metrics(server).get(sample)
        return (value,) if value is not None and value >= at_least else None

    return wait_until(reached, timeout=timeout, what=f"{sample} >= {at_least}", interval=0.2)[0]
