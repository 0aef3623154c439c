"""The provider API's OpenAPI document: valid OpenAPI 3.1, and the promises the portal relies on."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sarportal.sandbox.render import SummaryRenderer

DOCUMENT_URI = "urn:sarportal:provider-v1"
SPEC: dict[str, Any] = yaml.safe_load(
    (files("sarportal") / "openapi" / "provider-v1.yaml").read_text(encoding="utf-8")
)
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS = [
    (path, method, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "patch", "delete"}
]
V1_OPERATIONS = [(p, m, op) for p, m, op in OPERATIONS if p.startswith("/v1/")]
WRITES = [(p, m, op) for p, m, op in V1_OPERATIONS if m == "post"]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (`#/a/b`) to the object it names."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def op_id(case: tuple[str, str, dict[str, Any]]) -> str:
    return str(case[2]["operationId"])


def test_document_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"] == "3.1.0"
    validate(SPEC, cls=OpenAPIV31SpecValidator)


def test_operation_ids_are_the_agreed_ones() -> None:
    assert {op["operationId"] for _, _, op in OPERATIONS} == {
        "issueToken",
        "getOpenApi",
        "listTransactions",
        "getTransaction",
        "listCustomerTransactions",
        "createCapture",
        "createRefund",
        "createCancellation",
        "createDueDateExtension",
        "createDunningPause",
        "createInvoiceResend",
        "createDirectPayment",
        "exportTransactions",
        "listPayouts",
        "getPayout",
        "listPayoutLines",
        "exportPayout",
        "listClaims",
        "getClaim",
        "acceptClaim",
        "contestClaim",
    }


def test_the_exports_columns_are_summary_fields_and_none_is_the_customers() -> None:
    content = SPEC["paths"]["/v1/exports/transactions"]["get"]["responses"]["200"]["content"]
    header = content["text/csv"]["example"].splitlines()[0].split(",")
    summary = SPEC["components"]["schemas"]["TransactionSummary"]["properties"]
    assert header == list(SummaryRenderer.CSV_COLUMNS)  # what the sandbox serves
    assert set(header) <= set(summary) and "customer_id" not in header


@pytest.mark.parametrize("case", V1_OPERATIONS, ids=op_id)
def test_every_v1_operation_declares_the_common_failures(
    case: tuple[str, str, dict[str, Any]],
) -> None:
    _, method, operation = case
    assert {"401", "429", "500", "503"} <= set(operation["responses"])
    scope = "transactions:write" if method == "post" else "transactions:read"
    assert operation["security"] == [{"oauth2": [scope]}]
    for response in operation["responses"].values():
        assert "Request-Id" in resolve(response)["headers"]


@pytest.mark.parametrize("case", WRITES, ids=op_id)
def test_every_write_requires_an_idempotency_key(case: tuple[str, str, dict[str, Any]]) -> None:
    _, _, operation = case
    headers = [resolve(p) for p in operation["parameters"] if resolve(p)["in"] == "header"]
    assert [(h["name"], h["required"]) for h in headers] == [("Idempotency-Key", True)]
    assert {"400", "403", "404", "409"} <= set(operation["responses"])


def test_problem_codes_are_the_stable_set() -> None:
    assert set(SCHEMAS["Problem"]["properties"]["code"]["enum"]) == {
        "invalid_request",
        "unauthorized",
        "forbidden",
        "not_found",
        "invalid_state",
        "idempotency_conflict",
        "amount_exceeds_available",
        "rate_limited",
        "internal",
        "unavailable",
    }


def test_summary_requires_every_property_and_detail_extends_it() -> None:
    summary, detail = SCHEMAS["TransactionSummary"], SCHEMAS["TransactionDetail"]
    assert summary["required"] == list(summary["properties"])
    assert summary["additionalProperties"] is False
    assert detail["required"] == [*summary["required"], "customer", "items", "events", "invoice"]
    assert detail["required"] == list(detail["properties"])


@pytest.mark.parametrize("name", [n for n, s in SCHEMAS.items() if "examples" in s])
def test_schema_examples_conform_to_their_schema(name: str) -> None:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
    )
    validator = OAS31Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"},
        registry=registry,
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )
    for example in SCHEMAS[name]["examples"]:
        validator.validate(example)
