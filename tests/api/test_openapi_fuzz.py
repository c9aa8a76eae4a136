"""Schemathesis against the live server's OpenAPI document: every operation, positive and negative
data, anonymous and with each kind of token. No 5xx, statuses and content types as documented,
and the error envelope on every refusal."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.servers import ADMIN_TOKEN, Server

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error

# Operations that would destroy the credentials the rest of the run uses; the authorization
# matrix and tests/api cover them.
KNOWN = {200, 201, 204, 401, 403, 404, 405, 409, 413, 422, 429}
SKIP = {("POST", "/api/v1/brand/api-key"), ("DELETE", "/api/v1/auth/token")}


@pytest.fixture(scope="module")
def live(server: Server) -> Iterator[dict[str, Any]]:
    slug, key = server.brand(escalate_after_s=86400)
    server.topic(key, "cards", examples=["where is my card"])
    _, expert = server.expert(slug, key, ["cards"])
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    session = requests.Session()
    yield {"schema": schema, "tokens": [None, ADMIN_TOKEN, key, expert], "session": session}
    session.close()


def operations() -> list[str]:
    """The operations of the document (read from the code, so parametrization needs no server)."""
    import tempfile

    from gigcx import create_app
    from gigcx.config import Settings

    folder = tempfile.mkdtemp()
    app = create_app({"GIGCX": Settings(instance_path=folder, database_url=f"sqlite:///{folder}/x.db",
                                        admin_token="x", secret_key="x").finish(), "TESTING": True,
                      "GIGCX_MIGRATE": False})
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    app.extensions["gigcx_engine"].dispose()
    return [f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops
            if (method.upper(), path) not in SKIP]


def check_envelope(response: requests.Response) -> None:
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert set(body) == {"error"} and isinstance(body["error"]["code"], str), body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize("operation", operations())
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_operation(live: dict[str, Any], server: Server, operation: str, mode: Any) -> None:
    method, path = operation.split(" ", 1)
    op = live["schema"][path][method].ok() if hasattr(live["schema"][path][method], "ok") \
        else live["schema"][path][method]

    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode), token=st.sampled_from(live["tokens"]))
    def run(case: Any, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call(base_url=server.url, session=live["session"], headers=headers, timeout=15)
        # status_code_conformance is left out: statuses such as 429 are not listed per operation
        # (see docs/security.md, known gaps); every status must still be a known one.
        case.validate_response(response, checks=[not_a_server_error, content_type_conformance], headers=headers)
        assert response.status_code in KNOWN, (response.status_code, response.text[:200])
        check_envelope(response)

    run()
    assert server.proc is not None and server.proc.poll() is None


@pytest.mark.parametrize("method,path", [
    ("GET", "/cases/{big}"), ("POST", "/cases/{big}/review"), ("GET", "/cases?expert_id={big}"),
    ("GET", "/cases?before_id={big}"), ("POST", "/experts/{big}/suspend"), ("POST", "/experts/{big}/reject"),
    ("POST", "/experts/{big}/approve"), ("GET", "/payouts/{big}/statement.csv"),
])
def test_ids_beyond_bigint_are_invalid_not_500(live: dict[str, Any], server: Server, method: str, path: str) -> None:
    """Found by schemathesis: an id over 2**63 reached the database (OverflowError, a 500)."""
    key = live["tokens"][2] if "payouts" not in path else ADMIN_TOKEN
    body = {"verdict": "approve"} if path.endswith("review") else {"topics": ["cards"]} if "approve" in path else None
    r = server.rest(method, path.format(big=2**70), key, json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
