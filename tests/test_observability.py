"""Prometheus metrics, health check and JSON logs."""
from __future__ import annotations

import json
import logging
from typing import Any

import requests

from gigcx.observability import JsonFormatter


def test_health_and_metrics_of_a_live_server(server: Any, peers: Any) -> None:
    health = requests.get(server.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}
    slug, key = server.brand()
    server.topic(key, "cards")
    customer = peers(server.url, "/customer", {"brand": slug})
    customer.call("ask", {"text": "where is my card", "client_id": "q"})
    customer.call("ask", "bad payload")
    body = requests.get(server.url + "/metrics", timeout=5).text
    assert 'gigcx_connected_sockets{namespace="/customer"} 1.0' in body
    assert 'gigcx_event_seconds_count{event="ask",namespace="/customer",outcome="ok"} 1.0' in body
    assert 'gigcx_event_seconds_count{event="ask",namespace="/customer",outcome="invalid"} 1.0' in body
    assert 'gigcx_cases{status="matching"}' in body
    assert "gigcx_routing_seconds_bucket" in body


def test_json_log_lines_carry_case_ids() -> None:
    record = logging.makeLogRecord({"name": "gigcx.cases", "msg": "case opened", "levelname": "INFO",
                                    "case_id": 7, "topic": "cards"})
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "case opened" and line["case_id"] == 7 and line["topic"] == "cards"
