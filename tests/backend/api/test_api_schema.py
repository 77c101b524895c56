"""schemathesis against the app's own OpenAPI schema (served by the running API, signed in):
no 5xx, and every 4xx is an RFC 9457 problem document with a stable code.

Driven through schemathesis's Hypothesis strategies per operation (its pytest plugin does not
run under pytest 9 here: ``Function`` has no ``_nodeid``)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.backend.api.conftest import Stack


def _conforms(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400:
        ct = response.headers.get("content-type") or [""]
        assert (ct[0] if isinstance(ct, list) else ct).startswith("application/problem+json"), response.text[:300]
        body = response.json()
        assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
        assert body["status"] == response.status_code and body["type"].endswith("/" + body["code"])


def test_every_operation_conforms(stack: Stack) -> None:
    token = stack.user("prosumer").token or ""
    schema = schemathesis.openapi.from_url(stack.url + "/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            _conforms(case, token)

        check()
