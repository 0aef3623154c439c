"""The portal's web front: the app factory, one blueprint per page group, the JSON API.

`create_app(settings)` builds the app; there is no module-level app. Every request passes
through, in order: identification (`g.user`), the view's access rule, CSRF (unless the request
carries a personal API token), the view, and the security headers.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect

from sarportal.config import Settings
from sarportal.web.core import access, errors, ops, provider_access, ratelimit, security, sessions
from sarportal.web.core.access import public, requires
from sarportal.web.core.services import EXTENSION, Portal
from sarportal.web.core.timing import ServerTiming
from sarportal.web.core.uploads import InMemoryUploads

__all__ = ["create_app", "public", "requires"]

csrf = CSRFProtect()


def _check_csrf() -> None:
    if request.routing_exception is not None:
        return
    if g.get("user") is not None and g.user.via_token:
        return
    csrf.protect()


def create_app(config: Settings | None = None) -> Flask:
    """Build the portal's Flask app for `config` (default: from the environment)."""
    settings = config or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_dir), instance_relative_config=False)
    app.request_class = InMemoryUploads
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME=settings.session_cookie_name,
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PREFERRED_URL_SCHEME="https" if settings.cookie_secure else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions[EXTENSION] = Portal.build(settings)
    app.extensions[EXTENSION].housekeeping.start()
    sessions.install(app)
    csrf.init_app(app)

    from sarportal.web import ui
    from sarportal.web.ui import locale

    ui.init_app(app)
    from sarportal.web.people.account import remember_language

    locale.language_changed.connect(remember_language, app)
    ops.init_app(app)
    app.before_request(access.identify)
    app.before_request(access.enforce)
    app.before_request(_check_csrf)
    ratelimit.init_app(app)  # after identification: budgets are per user
    security.init_app(app)
    errors.init_app(app)
    provider_access.init_app(app)
    _register_blueprints(app)
    app.context_processor(lambda: {"current_user": g.get("user")})
    app.wsgi_app = ServerTiming(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _register_blueprints(app: Flask) -> None:
    from sarportal.web import api
    from sarportal.web.api import approvals as api_approvals
    from sarportal.web.api import claims as api_claims
    from sarportal.web.api import (
        invoice,
        openapi,
        stats,
        transaction,
        transactions,
        views,
    )
    from sarportal.web.api import (
        payouts as api_payouts,
    )
    from sarportal.web.approvals import pages as approvals
    from sarportal.web.bulk import pages as bulk

    del transaction, invoice  # imported for their routes, which nest under the detail page's
    from sarportal.web.claims import pages as claims
    from sarportal.web.payouts import pages as payouts
    from sarportal.web.payouts import reconcile
    from sarportal.web.people import account, admin, signin
    from sarportal.web.saved_views import pages as saved_views
    from sarportal.web.stats import counter, dashboard, dunning
    from sarportal.web.transactions import detail, table

    modules = (
        signin, account, admin, dashboard, api, transactions, detail, table, saved_views,
        approvals, bulk, payouts, reconcile, claims, dunning,
    )  # fmt: skip
    for module in modules:
        app.register_blueprint(module.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(api_approvals.bp)
    app.register_blueprint(api_payouts.bp)
    app.register_blueprint(api_claims.bp)
    app.register_blueprint(counter.bp)
    app.register_blueprint(dashboard.pages)
    openapi.init_app(app)
