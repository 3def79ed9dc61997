"""Fuzzing the API with schemathesis against its own OpenAPI schema, in-process: whatever a
client sends that the schema allows (and much it does not), the answer is never a 500."""

from __future__ import annotations

import warnings
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration import test_api_support
from tests.integration.test_api_support import Api

api = test_api_support.api

EXAMPLES_PER_OPERATION = 6
# Last: revoking keys would otherwise take away the fuzzer's own key early.
LAST = {("DELETE", "/api/v1/keys/{key_id}")}


def test_no_request_the_schema_describes_gets_a_server_error(api: Api) -> None:
    api.post("/api/v1/contacts", json={"phone": "0912345678", "name": "An"})
    api.post("/api/v1/segments", json={"name": "vip", "rule": {"tag": "vip"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_dict(api.get("/api/v1/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    assert len(operations) >= 40
    failures: list[str] = []
    headers = api.auth()

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), data=st.data())
        def one(case: Any, data: Any) -> None:
            kwargs = case.as_transport_kwargs(headers=headers)
            kwargs.pop("cookies", None)
            if "data" in kwargs and not isinstance(kwargs["data"], dict):
                # httpx's name for a raw body; a bare number or list goes as its text.
                raw = kwargs.pop("data")
                kwargs["content"] = raw if isinstance(raw, bytes | str) else str(raw)
            answer = api.client.request(**kwargs)
            if answer.status_code >= 500:
                failures.append(f"{kwargs['method']} {kwargs['url']} -> {answer.status_code}")
            elif answer.status_code >= 400:
                assert set(answer.json()) == {"code", "message", "field"}, (kwargs, answer.text)

        one()
    assert failures == []
