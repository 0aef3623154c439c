"""The portal API's OpenAPI document, generated from the code, and its server-rendered docs page.

`spec` is the one SpecTree instance (msgspec models). API views document and validate
themselves with `@spec.validate(query=..., json=..., resp=Response(...), tags=[...])`; a request
that fails validation becomes a problem+json 400 with `code: invalid_request` and the offending
`param`, never spectree's own 422 body. Spectree registers no routes of its own: its UI pages
load scripts from CDNs, which the Content-Security-Policy forbids. The portal serves the JSON
document at `/api/openapi.json` and a plain HTML reading of it at `/api/docs`, both behind the
viewer rule like every other view.
"""

from __future__ import annotations

import copy
import re
import threading
from types import UnionType
from typing import Annotated, Any, Final, TypeVar, Union, get_args, get_origin

import msgspec
from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from spectree import Response as SpecResponse
from spectree import SecurityScheme, SpecTree
from spectree.model_adapter import get_msgspec_model_adapter
from spectree.models import InType, SecureType, SecuritySchemeData
from werkzeug.wrappers import Response

from sarportal.domain.roles import Role
from sarportal.web.core.access import requires
from sarportal.web.core.errors import error_response

__all__ = [
    "InvalidParameter",
    "Problem",
    "SpecResponse",
    "bp",
    "decode_json",
    "document",
    "problem",
    "spec",
]

API_VERSION = "1.0.0"
PROBLEM_MEDIA_TYPE = "application/problem+json"
_DOCUMENT_KEY = "sarportal.openapi"
_LOCK = threading.Lock()


class Problem(msgspec.Struct, frozen=True):
    """An error answer (RFC 9457 problem+json) with a stable `code` and a support id."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    support_id: str
    param: str | None = None


class InvalidParameter(Exception):
    """A request parameter (query, body field or header) is missing or malformed."""

    def __init__(self, param: str | None, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.param = param
        self.detail = detail
        self.status = status


# Body fields in minor units: a JSON integer and nothing else. The lax conversion that query
# strings need would read "100", "1e1", "4.0" or 1.0 as an amount; guessing what was meant could
# move the wrong sum, so anything but an integer there is a 422 naming the field.
MINOR_UNIT_FIELDS: Final = frozenset({"amount", "fee_amount"})


def not_minor_units(param: str) -> InvalidParameter:
    """The answer for a minor-units field that is not a JSON integer."""
    return InvalidParameter(
        param,
        f"The parameter `{param}` must be a whole number of minor units written as a JSON "
        "integer (such as 1250 for 12.50), not a string, a decimal number or a boolean.",
        status=422,
    )


def require_minor_units(body: object) -> None:
    """Refuse a JSON body whose minor-units fields are present but not JSON integers."""
    if not isinstance(body, dict):
        return
    for name in MINOR_UNIT_FIELDS & body.keys():
        if type(body[name]) is not int:  # bool is an int subclass: refused too
            raise not_minor_units(name)


def problem(status: int, *, code: str, detail: str, param: str | None = None) -> Response:
    """A problem+json response (via `errors.error_response`), naming `param` when given."""
    response = error_response(status, code=code, detail=detail)
    if param is not None and response.mimetype == PROBLEM_MEDIA_TYPE:
        body = response.get_json()
        body["param"] = param
        response.set_data(current_app.json.dumps(body))
    return response


_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED = re.compile(r"(?:unknown|missing required) field `([^`]+)`")
T = TypeVar("T")


def decode_json(kind: type[T]) -> T:
    """The request body as `kind`, strictly: `InvalidParameter` naming the offending field
    (`filters.status`) otherwise. Rejected values are the caller's input and not echoed."""
    try:
        return msgspec.json.decode(request.get_data(), type=kind)
    except msgspec.ValidationError as error:
        message = str(error)
        at = _AT.search(message)
        path = re.split(r"[.\[\]]+", at.group(1)) if at else []
        named = _NAMED.search(message)
        path += [named.group(1)] if named else []
        param = ".".join(part for part in path if part and not part.isdigit()) or None
        reason = _QUOTED.sub("", _AT.sub("", message))
        detail = f"The field `{param}` is invalid: {reason}." if param else f"{reason}."
        raise InvalidParameter(param, detail) from None
    except msgspec.DecodeError:
        raise InvalidParameter(None, "The body must be a JSON object.") from None


_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9._-]")
_QUOTED = re.compile(r"\s*'[^']*'")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _before(
    request: Any, response: Any, error: Exception | None, instance: Any, adapter: Any
) -> None:
    """Turn spectree's validation failure into `InvalidParameter` (problem+json 400)."""
    if error is None:
        return
    message = str(error)
    found = adapter.validation_errors(error)[0]
    location = [str(part) for part in found.get("loc", []) if not str(part).isdigit()]
    named = _UNKNOWN_FIELD.search(message) or _MISSING_FIELD.search(message)
    param = location[0] if location else (named.group(1) if named else None)
    # msgspec quotes rejected values ('…'); they are the caller's input, so they are not echoed.
    reason = _QUOTED.sub("", str(found.get("msg", message)))
    if param in MINOR_UNIT_FIELDS and reason.startswith("Expected `int`,"):
        raise not_minor_units(param)
    if param is None:
        raise InvalidParameter(None, f"The request is invalid: {reason}.")
    raise InvalidParameter(param, f"The parameter `{param}` is invalid: {reason}.")


def _model_name(model: Any) -> str:
    """Schemas are named after their class, so endpoints share `TransactionSummary` and co."""
    if get_origin(model) in (Union, UnionType):
        members = [arg for arg in get_args(model) if arg is not type(None)]
        return "Or".join(_model_name(member) for member in members)
    if get_origin(model) is Annotated:
        titles = [m.title for m in model.__metadata__ if isinstance(m, msgspec.Meta) and m.title]
        if titles:
            return _SCHEMA_NAME.sub("_", titles[0])
        return _model_name(get_args(model)[0])
    if get_origin(model) is list:
        return _model_name(get_args(model)[0]) + "List"
    return _SCHEMA_NAME.sub("_", str(getattr(model, "__name__", None) or model))


spec = SpecTree(
    "flask",
    naming_strategy=_model_name,
    nested_naming_strategy=lambda _parent, child: child,
    model_adapter=get_msgspec_model_adapter(),
    before=_before,
    validation_error_status=400,
    validation_error_model=Problem,
    title="sarportal API",
    version=API_VERSION,
    description=(
        "The merchant portal's JSON API. Authenticate with a personal API token "
        "(`Authorization: Bearer …`; make one under Account → API tokens, `/account/tokens`) "
        "or, from the portal's own pages, with the session cookie "
        "and the CSRF token for writes. Amounts are integers in minor units with an ISO 4217 "
        "currency; times are RFC 3339 in UTC. Errors are `application/problem+json` with a "
        "stable `code`."
    ),
    mode="strict",
    path="_spectree",  # never registered; spectree's route finder skips only this prefix
    page_templates={},
    security_schemes=[
        SecurityScheme(
            name="personal_token",
            data=SecuritySchemeData(
                type=SecureType.HTTP, scheme="bearer", description="A personal API token."
            ),
        ),
        SecurityScheme(
            name="session",
            data=SecuritySchemeData(
                type=SecureType.API_KEY,
                name="__Host-sarportal",
                field_in=InType.COOKIE,
                description="The portal's session cookie; writes also need `X-CSRFToken`.",
            ),
        ),
    ],
    security=[{"personal_token": []}, {"session": []}],
)


def _problem_media_types(document: dict[str, Any]) -> dict[str, Any]:
    """Error responses are documented as problem+json, which is what the portal sends."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if str(status).startswith(("4", "5")) and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return document


def _rate_limited(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation counts against the caller's API budget (`web.core.ratelimit`), so every
    one documents its 429 `rate_limited` problem."""
    problem_content = next(
        copy.deepcopy(response["content"])
        for operations in document.get("paths", {}).values()
        for operation in operations.values()
        for status, response in operation.get("responses", {}).items()
        if str(status) == "429" and "content" in response
    )
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault(
                "429",
                {
                    "description": "Over the caller's request budget: try again after "
                    "`Retry-After` seconds.",
                    "content": copy.deepcopy(problem_content),
                },
            )
    return document


_DETAIL = "get__api_v1_transactions_{tx_id}"
_ACTIONS = {
    "Capture": "post__api_v1_transactions_{tx_id}_captures",
    "Refund": "post__api_v1_transactions_{tx_id}_refunds",
    "Cancel": "post__api_v1_transactions_{tx_id}_cancellations",
}


def _links_to_transaction(expression: str) -> dict[str, Any]:
    """OpenAPI links from an answer that names a transaction to its detail and its actions."""
    targets = {"GetTransaction": _DETAIL, **{f"{k}Transaction": v for k, v in _ACTIONS.items()}}
    return {
        name: {"operationId": operation, "parameters": {"tx_id": expression}}
        for name, operation in targets.items()
    }


# (path, method, status) → the links of that answer: what a client can do next with its ids.
_LINKS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("/api/v1/transactions", "get", "200"): _links_to_transaction("$response.body#/data/0/id"),
    ("/api/v1/transactions/{tx_id}", "get", "200"): _links_to_transaction("$response.body#/id"),
    **{
        (f"/api/v1/transactions/{{tx_id}}/{kind}", "post", "201"): _links_to_transaction(
            "$response.body#/id"
        )
        for kind in ("captures", "refunds", "cancellations")
    },
    ("/api/v1/payouts", "get", "200"): {
        name: {"operationId": operation, "parameters": {"payout_id": "$response.body#/data/0/id"}}
        for name, operation in (
            ("GetPayout", "get__api_v1_payouts_{payout_id}"),
            ("ListPayoutLines", "get__api_v1_payouts_{payout_id}_lines"),
        )
    },
    ("/api/v1/stats/jobs", "post", "202"): {
        "GetJob": {
            "operationId": "get__api_v1_stats_jobs_{job_id}",
            "parameters": {"job_id": "$response.body#/id"},
        }
    },
}


# (path, method) → the media types of a 200 that is a file, not JSON (spectree knows only JSON).
_FILES: dict[tuple[str, str], tuple[str, ...]] = {
    ("/api/v1/payouts/{payout_id}/export", "get"): ("text/csv", "application/xml"),
}


def _file_answers(document: dict[str, Any]) -> dict[str, Any]:
    """Document the answers that are files (a payout's export) with their media types."""
    for (path, method), media_types in _FILES.items():
        responses = document.get("paths", {}).get(path, {}).get(method, {}).get("responses")
        if responses is not None:
            responses["200"] = {
                "description": "The file, streamed (`Content-Disposition` names it).",
                "content": {media: {"schema": {"type": "string"}} for media in media_types},
            }
    return document


# (path, method) → a multipart/form-data request body (spectree documents JSON bodies only).
_FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/v1/claims/{claim_id}/contestation", "post"): {
        "type": "object",
        "additionalProperties": False,
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": "\\S"},
            "evidence": {
                "type": "array",
                "maxItems": 5,
                "items": {"contentMediaType": "application/octet-stream"},
                "description": "PDF, PNG or JPEG files (by their content), each at most 5 MB, "
                "together at most 10 MB.",
            },
        },
    },
}


def _form_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """Document the request bodies that are forms with files."""
    for (path, method), schema in _FORMS.items():
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": copy.deepcopy(schema)}},
            }
    return document


def _add_links(document: dict[str, Any]) -> dict[str, Any]:
    """Document how answers lead to other operations (OpenAPI links), for clients and tools."""
    for (path, method, status), links in _LINKS.items():
        response = document.get("paths", {}).get(path, {}).get(method, {}).get("responses", {})
        if status in response:
            response[status]["links"] = copy.deepcopy(links)
    return document


def document(app: Flask | None = None) -> dict[str, Any]:
    """The OpenAPI document of `app` (default: the current app), built once per app."""
    target = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cached: dict[str, Any] | None = target.extensions.get(_DOCUMENT_KEY)
    if cached is not None:
        return cached
    with _LOCK, target.app_context():
        # spectree strips the nested `$defs` from its shared models while it builds a document,
        # which would leave the next app's document (tests build many apps) with dangling
        # references; build from a copy and put the models back.
        models = copy.deepcopy(spec.models)
        try:
            built = _form_bodies(
                _file_answers(
                    _add_links(_rate_limited(_problem_media_types(spec._generate_spec())))
                )
            )
        finally:
            spec.models = models
        target.extensions[_DOCUMENT_KEY] = built
    return built


bp = Blueprint("apidoc", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@requires(Role.VIEWER)
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of the portal API."""
    return jsonify(document())


@bp.get("/docs")
@requires(Role.VIEWER)
def docs() -> str:
    """The OpenAPI document, read for people: endpoints, parameters, responses, schemas."""
    return render_template("apidoc/docs.html", doc=document(), operations=_operations(document()))


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, operations in sorted(doc.get("paths", {}).items()):
        for method, operation in operations.items():
            found.append(
                {
                    "path": path,
                    "method": method.upper(),
                    "anchor": operation.get("operationId", f"{method}-{path}"),
                    **operation,
                }
            )
    return found


def _invalid_parameter(error: InvalidParameter) -> Response:
    return problem(error.status, code="invalid_request", detail=error.detail, param=error.param)


def init_app(app: Flask) -> None:
    """Register the blueprint and the problem+json answer for invalid parameters."""
    app.register_blueprint(bp)
    app.register_error_handler(InvalidParameter, _invalid_parameter)
