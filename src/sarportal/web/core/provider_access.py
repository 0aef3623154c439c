"""The signed-in user's view of the provider, and provider errors as pages and problems.

Views call `provider_session()`; it uses the user's own provider credentials, read with the user
at the start of the request and decrypted for this request only. A provider error that a view
does not handle itself becomes a clear page (or a problem+json answer under /api) that says what
happened and what to do.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from werkzeug.wrappers import Response

from sarportal.jobs.codes import NO_CREDENTIALS
from sarportal.provider import Credentials, ProviderSession
from sarportal.provider.errors import ProviderError, ProviderRateLimited, ProviderTLSError
from sarportal.store.accounts import Account
from sarportal.web.core.errors import error_response
from sarportal.web.core.problems import problem
from sarportal.web.core.services import portal


class NoProviderCredentials(Exception):
    """The user has no provider credentials (or the portal has no provider configured)."""


def provider_session() -> ProviderSession:
    """The provider with the signed-in user's credentials."""
    services = portal()
    if services.provider is None:
        raise NoProviderCredentials("no provider is configured")
    account: Account | None = g.get("account")
    if account is not None and account.user_id == g.user.id:
        found = services.store.provider_credentials_of(account)
    else:
        found = services.store.provider_credentials_for(g.user.id)
    if found is None:
        raise NoProviderCredentials("the user has no provider credentials")
    return services.provider.session(Credentials(*found))


def answer(code: str, *, template: str | None = None) -> Response:
    """The page or problem+json for `code`, from the one table (`web.problems`)."""
    found = problem(code)
    return error_response(
        found.status, code=code, title=str(found.title), detail=found.detail(), template=template
    )


def _no_credentials(error: NoProviderCredentials) -> Response:
    return answer(NO_CREDENTIALS, template="errors/no_provider_access.html")


def provider_error_response(error: ProviderError) -> Response:
    """The page or problem for a provider error; never the provider's own text or data."""
    if isinstance(error, ProviderTLSError):
        current_app.logger.error("provider TLS verification failed; nothing was shown")
    response = answer(error.portal_code)
    if isinstance(error, ProviderRateLimited) and error.retry_after:
        response.headers["Retry-After"] = str(int(error.retry_after) or 1)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(NoProviderCredentials, _no_credentials)
    app.register_error_handler(ProviderError, provider_error_response)
