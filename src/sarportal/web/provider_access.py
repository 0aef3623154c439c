"""The signed-in user's view of the provider, and provider errors as pages and problems.

Views call `provider_session()`; it uses the user's own provider credentials, read with the user
at the start of the request and decrypted for this request only. A provider error that a view
does not handle itself becomes a clear page (or a problem+json answer under /api) that says what
happened and what to do.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.provider import Credentials, ProviderSession
from sarportal.provider.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderForbidden,
    ProviderInvalidRequest,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRefused,
    ProviderTLSError,
)
from sarportal.store.accounts import Account
from sarportal.web.errors import error_response
from sarportal.web.services import portal


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


def _no_credentials(error: NoProviderCredentials) -> Response:
    return error_response(
        409,
        code="no_provider_credentials",
        title=_("No provider access yet"),
        detail=_(
            "Your account has no credentials for the payment provider yet. "
            "Please ask an administrator of your organisation to set them on the users page."
        ),
        template="errors/no_provider_access.html",
    )


def provider_error_response(error: ProviderError) -> Response:
    """The page or problem for a provider error; never the provider's own text or data."""
    if isinstance(error, ProviderTLSError):
        current_app.logger.error("provider TLS verification failed; nothing was shown")
        return error_response(
            502,
            code="provider_untrusted",
            title=_("The provider's identity could not be verified"),
            detail=_(
                "The portal refused to connect because the payment provider's certificate "
                "could not be verified. No data was shown. Please tell your administrator."
            ),
        )
    if isinstance(error, ProviderAuthError):
        return error_response(
            502,
            code="provider_credentials_refused",
            title=_("The provider refused your credentials"),
            detail=_(
                "The payment provider did not accept the credentials of your account. "
                "Please ask an administrator of your organisation to check them."
            ),
        )
    if isinstance(error, ProviderForbidden):
        return error_response(
            403,
            code="provider_forbidden",
            title=_("Not allowed by the provider"),
            detail=_("Your provider credentials do not allow this. Ask your administrator."),
        )
    if isinstance(error, ProviderNotFound):
        return error_response(
            404,
            code="not_found",
            title=_("Transaction not found"),
            detail=_("There is no such transaction for your merchant account."),
        )
    if isinstance(error, ProviderInvalidRequest):
        return error_response(
            400,
            code="invalid_request",
            title=_("The request could not be used"),
            detail=_("The payment provider did not accept the request. Please check your input."),
        )
    if isinstance(error, ProviderRefused):
        return error_response(
            409,
            code=error.code or "refused",
            title=_("The provider refused the action"),
            detail=_("The transaction's current state does not allow this action."),
        )
    response = error_response(
        503,
        code="provider_unavailable",
        title=_("The payment provider is not answering"),
        detail=_(
            "The payment provider could not be reached or did not answer in time. "
            "Nothing was changed. Please try again in a moment."
        ),
    )
    if isinstance(error, ProviderRateLimited) and error.retry_after:
        response.headers["Retry-After"] = str(int(error.retry_after) or 1)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(NoProviderCredentials, _no_credentials)
    app.register_error_handler(ProviderError, provider_error_response)
