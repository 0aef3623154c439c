"""Step-up: a signed-in user proves who they are again before an action that needs it.

Money actions, every administration action, making an API token and changing the second factor
need a proof younger than `Settings.step_up_after` in THIS session: signing in elsewhere does
not count. The proof is the second factor where one is enrolled, else the password.

Forms get it with `@step_up_required`: a stale session is shown a page that asks for the proof
and posts the original form again with it, so nothing typed is lost and nothing is stored
while the user confirms; the action then runs in that same request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from flask import g, make_response, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.auth.signin import Outcome
from sarportal.web.core.services import portal
from sarportal.web.core.sessions import server_session

F = TypeVar("F", bound=Callable[..., Any])
SECRET_FIELD: Final = "step_up_secret"  # noqa: S105 (a form field's name)
NOT_CARRIED: Final = frozenset({SECRET_FIELD, "csrf_token"})


def needs_step_up() -> bool:
    """Whether this session's last proof of who the user is is too old for a sensitive action
    (a personal API token is its own proof: it was made with one)."""
    if g.user is None or g.user.via_token:
        return False
    services = portal()
    proved = server_session().authenticated_at
    return proved is None or services.settings.clock() - proved > services.settings.step_up_after


@dataclass(frozen=True)
class Refusal:
    """Why a proof was refused, fit to show, and the HTTP status to answer with."""

    message: str
    status: int


def confirm(secret: str) -> Refusal | None:
    """Check the user's proof: None when it holds (this session is fresh again from now)."""
    services = portal()
    result = services.authenticator.step_up(g.user.id, secret[:1024], request.remote_addr or "")
    if result.outcome is Outcome.SIGNED_IN:
        server_session().confirm(services.settings.clock())
        return None
    if result.outcome in (Outcome.LOCKED, Outcome.IP_BLOCKED):
        return Refusal(_("Too many wrong attempts. Please wait a while before you try again."), 429)
    if g.user.has_second_factor:
        return Refusal(_("The code is not correct or has been used already."), 401)
    return Refusal(_("The password is not correct."), 401)


def step_up_required(view: F) -> F:
    """Let the form view change something only in a fresh session; else ask for the proof
    first (see above). A GET passes: it changes nothing."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if request.method == "GET" or not needs_step_up():
            return view(*args, **kwargs)
        secret = request.form.get(SECRET_FIELD)
        refusal = None if secret is None else confirm(secret)
        if secret is not None and refusal is None:
            return view(*args, **kwargs)
        return _ask(refusal)

    return checked  # type: ignore[return-value]


def _ask(refusal: Refusal | None) -> Response:
    carried = [
        (name, value)
        for name, values in request.form.lists()
        if name not in NOT_CARRIED
        for value in values
    ]
    page = render_template(
        "auth/step_up.html",
        action=request.path,
        carried=carried,
        error=refusal.message if refusal else None,
        back=request.referrer if _same_origin(request.referrer) else None,
    )
    response = make_response(page, refusal.status if refusal else 401)
    response.headers["Cache-Control"] = "no-store"  # it may carry what the form carried
    return response


def _same_origin(url: str | None) -> bool:
    return bool(url) and str(url).startswith(request.host_url)
