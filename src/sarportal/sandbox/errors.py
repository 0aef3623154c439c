"""The sandbox's problem+json errors, with the contract's stable codes."""

from __future__ import annotations

from typing import Any

STATUS_OF_CODE = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "invalid_state": 409,
    "idempotency_conflict": 409,
    "amount_exceeds_available": 422,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}

TITLES = {
    "invalid_request": "The request is invalid.",
    "unauthorized": "Authentication is missing or invalid.",
    "forbidden": "The token's scope does not allow this.",
    "not_found": "No such resource.",
    "invalid_state": "The state of the transaction or claim does not allow this action.",
    "idempotency_conflict": "The idempotency key was used for another request.",
    "amount_exceeds_available": "The amount exceeds what is available.",
    "rate_limited": "Too many requests.",
    "internal": "An internal error occurred.",
    "unavailable": "The service is temporarily unavailable.",
}


class Problem(Exception):
    """A problem+json answer: raised anywhere in a handler, rendered by the app."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.status = STATUS_OF_CODE[code]
        self.detail = detail
        self.param = param
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://docs.sicher-auf-rechnung.example/problems/{self.code}",
            "title": TITLES[self.code],
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "request_id": request_id,
        }
        if self.param is not None:
            body["param"] = self.param
        return body

    @classmethod
    def invalid(cls, param: str, detail: str) -> Problem:
        return cls("invalid_request", detail, param=param)

    @classmethod
    def invalid_state(cls, detail: str) -> Problem:
        return cls("invalid_state", detail)

    @classmethod
    def amount_exceeds(cls, available: int, action: str) -> Problem:
        return cls(
            "amount_exceeds_available",
            f"The amount exceeds the {available} (minor units) available to {action}.",
            param="amount",
        )
