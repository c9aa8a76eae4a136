"""The OpenAPI document (`/api/v1/openapi.json`) says what every operation answers."""
from __future__ import annotations

import re
from typing import Any

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]


def _schema_of(response: dict[str, Any]) -> Any:
    return next((media.get("schema") for media in response.get("content", {}).values()), None)


def test_every_operation_declares_its_success_answer(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    ops = _operations(doc)
    assert len(ops) > 70
    missing = []
    for method, path, op in ops:
        ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        described = [code for code, r in ok.items() if code == "204" or _schema_of(r) is not None]
        if not described:
            missing.append(f"{method} {path}")
    assert not missing, f"operations without a 2xx response schema: {missing}"


def test_every_json_answer_names_a_model_and_errors_use_the_envelope(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    for method, path, op in _operations(doc):
        for code, response in op["responses"].items():
            json_schema = response.get("content", {}).get("application/json", {}).get("schema")
            if code.startswith("2") and json_schema is not None:
                name = json_schema["$ref"].rsplit("/", 1)[-1]
                assert schemas[name].get("properties"), (method, path, name)
            if code.startswith("4"):
                assert json_schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
    assert "fields" in schemas["ErrorDetail"]["properties"]


def test_every_api_route_is_in_the_document(app: Any, client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(m, p) for m, p, _ in _operations(doc)}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):  # the REST blueprint (not the document's own routes)
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, path)
            checked += 1
    assert checked == len(documented)
