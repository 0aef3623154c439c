"""Everything that can go wrong when talking to the provider, as one exception tree.

    ProviderError                      anything from the provider boundary
    ├── ProviderUnavailable            no usable answer: connection, timeout, 5xx, broken JSON
    │   ├── ProviderTimeout            the request timed out (a write's outcome is unknown)
    │   └── ProviderTLSError           the provider's identity could not be verified
    ├── ProviderRateLimited            429, with the seconds to wait
    ├── ProviderAuthError              401: the credentials or the token were refused
    ├── ProviderForbidden              403: the credentials' scope does not allow this
    ├── ProviderNotFound               404: no such transaction (or another merchant's)
    ├── ProviderInvalidRequest         400: the request was malformed
    └── ProviderRefused                a business rule said no (the user can act on it)
        ├── InvalidState               409 invalid_state
        ├── AmountExceedsAvailable     422 amount_exceeds_available
        └── IdempotencyConflict        409 idempotency_conflict

Third-party exceptions are translated in one place (`transport.py`); problem+json answers are
mapped by `error_from_problem`. Every error carries the status, the problem code, the provider's
request id and whether a retry may help; none carries a token, a secret or customer data.
"""

from __future__ import annotations

from typing import Any


class ProviderError(Exception):
    """An error at the provider boundary."""

    should_retry = False
    portal_code = "provider_unavailable"
    """The stable code under which the portal explains this to people (`web.problems`), the
    same for a page, an inline alert, a failed job and a problem+json answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.param = param
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """The provider gave no usable answer; reads may be retried."""

    should_retry = True


class ProviderTimeout(ProviderUnavailable):
    """The request timed out; for a write, whether it took effect is unknown."""


class ProviderTLSError(ProviderUnavailable):
    """The provider's identity could not be verified; never retried without verification."""

    should_retry = False
    portal_code = "provider_untrusted"


class ProviderRateLimited(ProviderError):
    """The provider's rate limit was hit; wait `retry_after` seconds."""

    should_retry = True


class ProviderAuthError(ProviderError):
    """The provider refused the credentials or the token."""

    portal_code = "provider_credentials_refused"


class ProviderForbidden(ProviderError):
    """The credentials' scope does not allow this request."""

    portal_code = "provider_forbidden"


class ProviderNotFound(ProviderError):
    """No such resource for these credentials."""

    portal_code = "not_found"


class ProviderInvalidRequest(ProviderError):
    """The provider found the request malformed."""

    portal_code = "invalid_request"


class ProviderRefused(ProviderError):
    """A business rule of the provider refused the action."""

    portal_code = "refused"


class InvalidState(ProviderRefused):
    """The transaction's state does not allow the action."""

    portal_code = "invalid_state"


class AmountExceedsAvailable(ProviderRefused):
    """The amount is more than can be captured or refunded."""

    portal_code = "amount_exceeds_available"


class IdempotencyConflict(ProviderRefused):
    """The idempotency key was used for another request, or is still in flight."""

    portal_code = "idempotency_conflict"


_BY_CODE: dict[str, type[ProviderError]] = {
    "invalid_request": ProviderInvalidRequest,
    "unauthorized": ProviderAuthError,
    "forbidden": ProviderForbidden,
    "not_found": ProviderNotFound,
    "invalid_state": InvalidState,
    "amount_exceeds_available": AmountExceedsAvailable,
    "idempotency_conflict": IdempotencyConflict,
    "rate_limited": ProviderRateLimited,
    "internal": ProviderUnavailable,
    "unavailable": ProviderUnavailable,
}
_BY_STATUS: dict[int, type[ProviderError]] = {
    400: ProviderInvalidRequest,
    401: ProviderAuthError,
    403: ProviderForbidden,
    404: ProviderNotFound,
    409: InvalidState,
    422: AmountExceedsAvailable,
    429: ProviderRateLimited,
}


def error_from_problem(
    status: int, problem: dict[str, Any] | None, retry_after: float | None
) -> ProviderError:
    """The exception for an error answer: by its problem `code`, else by its status."""
    problem = problem or {}
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ProviderUnavailable if status >= 500 else ProviderError
    detail = problem.get("detail")
    message = detail if isinstance(detail, str) else f"the provider answered {status}"
    request_id = problem.get("request_id")
    param = problem.get("param")
    return cls(
        message,
        status=status,
        code=code,
        request_id=request_id if isinstance(request_id, str) else None,
        param=param if isinstance(param, str) else None,
        retry_after=retry_after,
    )
