"""Answering a claim from its page: `POST /claims/<id>/accept` and `POST /claims/<id>/contest`.

The page holds both forms while the claim is open and before its deadline, for operators and
admins. Each form carries a signed hidden `intent` made when the page was shown: the user, the
claim, the answer, the amount seen and a fresh idempotency key, so a double click, a resent form
or a retry after a lost answer is the same intent and has one effect. A session whose proof of
identity is old gets the password (or code) field inside the form itself: a contestation's files
cannot be carried through a separate confirmation page. A refused form is shown again with the
statement as typed; files are never kept, so the user chooses them again (the page says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from sarportal.actions import Outcome, new_key, provider_key
from sarportal.claim_responses import Answer, ClaimIntent, ClaimResponses, ClaimResult
from sarportal.domain.claims import (
    MAX_FILE,
    MAX_FILES,
    MAX_FILES_TOTAL,
    MAX_TEXT,
    MB,
    Contestation,
    ContestationError,
    check_contestation,
)
from sarportal.domain.roles import Role
from sarportal.provider.errors import InvalidState
from sarportal.provider.models import Claim
from sarportal.web.claims.assignee import assignment_context
from sarportal.web.claims.present import SOON, detail_context
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.htmx import no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import SECRET_FIELD, confirm, needs_step_up
from sarportal.web.core.uploads import allow_larger_uploads
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.messages import failure_sentence
from sarportal.web.ui.formats import format_money
from sarportal.web.ui.locale import current_locale

SALT: Final = "sarportal.claim-response"
INTENT_MAX_AGE: Final = 23 * 3600  # under the provider's 24 h replay window
FORM_ROOM: Final = 64 * 1024  # the statement, the hidden fields and the parts' headers
# The largest contestation request taken in (the page's and the API's): room for the most and
# largest files the form allows one by one, so that too much in all is told in words, not 413.
LARGEST_CONTESTATION: Final = MAX_FILES * MAX_FILE + FORM_ROOM

allow_larger_uploads("claims.contest", LARGEST_CONTESTATION)


@dataclass(frozen=True)
class Opened:
    """A form as shown: whose it is, which claim and answer, the amount seen, the key."""

    user_id: int
    claim_id: str
    answer: Answer
    amount: int
    currency: str
    key: str


@dataclass
class Entry:
    """What the user sent, kept to show again after a refusal (never the files)."""

    answer: Answer | None = None
    text: str = ""
    files_dropped: int = 0  # how many chosen files have to be chosen again
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # about the whole form
    status: int = 200


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def seal(opened: Opened) -> str:
    o = opened
    return _serializer().dumps(
        {"u": o.user_id, "c": o.claim_id, "a": o.answer.value, "m": o.amount, "$": o.currency,
         "k": o.key}
    )  # fmt: skip


def unseal(token: str, user_id: int, claim_id: str, answer: Answer) -> Opened | None:
    """The form in `token` when it is genuine, recent and for this user, claim and answer."""
    try:
        data = _serializer().loads(token, max_age=INTENT_MAX_AGE)
        opened = Opened(
            user_id=int(data["u"]),
            claim_id=str(data["c"]),
            answer=Answer(data["a"]),
            amount=int(data["m"]),
            currency=str(data["$"]),
            key=str(data["k"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if (opened.user_id, opened.claim_id, opened.answer) != (user_id, claim_id, answer):
        return None
    return opened


def answerable(claim: Claim) -> bool:
    """Whether the provider would still take an answer: open and before its deadline."""
    return claim.status == "open" and claim.respond_by > portal().settings.clock()


def may_answer() -> bool:
    user: CurrentUser = g.user
    return user.role.allows(Role.OPERATOR)


def forms_context(claim: Claim, entry: Entry, kept: Opened | None = None) -> dict[str, Any]:
    """What the detail page needs for the two forms (nothing when they are not offered)."""
    if not (answerable(claim) and may_answer()):
        return {"respond": None}
    user: CurrentUser = g.user

    def opened(answer: Answer) -> str:
        if kept is not None and kept.answer is answer:
            return seal(kept)
        return seal(Opened(user.id, claim.id, answer, claim.amount, claim.currency, new_key()))

    return {
        "respond": {
            "accept_intent": opened(Answer.ACCEPT),
            "contest_intent": opened(Answer.CONTEST),
            "amount": format_money(claim.amount, claim.currency, current_locale()),
            "step_up": needs_step_up(),
            "second_factor": user.has_second_factor,
            "secret_field": SECRET_FIELD,
            "max_text": MAX_TEXT,
            "max_files": MAX_FILES,
            "max_file_mb": MAX_FILE // MB,
            "max_total_mb": MAX_FILES_TOTAL // MB,
            "entry": entry,
        }
    }


def page_context(
    claim: Claim, entry: Entry, kept: Opened | None = None, *, assign_error: str | None = None
) -> dict[str, Any]:
    """The claim's page: the claim, its deadline, its assignee, and the forms where they are
    offered (`assign_error`: why the assignee form was refused)."""
    now = portal().settings.clock()
    return {
        **detail_context(claim, now, SOON),
        **forms_context(claim, entry, kept),
        **assignment_context(claim, assign_error),
        "answer_error": entry.error,
    }


def _show(claim_id: str, entry: Entry, kept: Opened | None = None) -> Response:
    """The claim's page again, read now, with the forms as the user left them."""
    claim = provider_session().claim(claim_id)
    html = render_template("claims/detail.html", **page_context(claim, entry, kept))
    return no_store(Response(html, status=entry.status, mimetype="text/html"))


@requires(Role.OPERATOR)
def accept(claim_id: str) -> Response:
    """Accept the claim: its amount is deducted from the current payout."""
    return _answer(claim_id, Answer.ACCEPT)


@requires(Role.OPERATOR)
def contest(claim_id: str) -> Response:
    """Contest the claim with a statement and evidence files, passed through to the provider."""
    return _answer(claim_id, Answer.CONTEST)


def _answer(claim_id: str, answer: Answer) -> Response:
    user: CurrentUser = g.user
    entry = Entry(answer=answer, text=request.form.get("text", "")[: MAX_TEXT * 2])
    uploads = [f for f in request.files.getlist("evidence") if f.filename]
    entry.files_dropped = len(uploads)
    opened = unseal(request.form.get("intent", ""), user.id, claim_id, answer)
    if opened is None:
        entry.error = _("This form has expired. Please check the claim and send it again.")
        entry.status = 422
        return _show(claim_id, entry)
    contestation = None
    if answer is Answer.CONTEST:
        try:
            contestation = check_contestation(
                entry.text, [(f.filename or "", f.read()) for f in uploads]
            )
        except ContestationError as error:
            entry.errors[error.field] = contestation_message(error)
            entry.status = 422
            return _show(claim_id, entry, opened)
    if needs_step_up():
        refusal = confirm(request.form.get(SECRET_FIELD, ""))
        if refusal is not None:
            entry.errors["secret"] = refusal.message
            entry.status = refusal.status
            return _show(claim_id, entry, opened)
    return _perform(opened, contestation, entry)


def _perform(opened: Opened, contestation: Contestation | None, entry: Entry) -> Response:
    intent = ClaimIntent(
        claim_id=opened.claim_id,
        answer=opened.answer,
        amount=opened.amount,
        currency=opened.currency,
        idempotency_key=provider_key(opened.user_id, opened.key),
        text=contestation.text if contestation else "",
        evidence=contestation.evidence if contestation else (),
    )
    result = ClaimResponses(portal().store, provider_session()).respond(actor(), intent)
    if result.outcome is Outcome.SUCCEEDED:
        flash(success_sentence(intent, result.reconciled), "success")
        return redirect(url_for("claims.detail", claim_id=opened.claim_id), code=303)
    entry.error = claim_failure(result)
    entry.status = 422 if result.outcome is Outcome.FAILED else 502
    # a refusal is remembered with its key at the provider: a new answer needs a new key; after
    # a lost answer the same key is kept, so that sending again replays instead of acting twice
    kept = None if isinstance(result.error, InvalidState) else opened
    return _show(opened.claim_id, entry, kept)


def success_sentence(intent: ClaimIntent, reconciled: bool) -> str:
    amount = format_money(intent.amount, intent.currency, current_locale())
    if intent.answer is Answer.ACCEPT:
        text = _(
            "You accepted claim %(id)s: %(amount)s is deducted from your current payout.",
            id=intent.claim_id, amount=amount,
        )  # fmt: skip
    else:
        text = _(
            "You contested claim %(id)s with %(files)d file(s). The payment provider reviews it "
            "and decides; the claim's page shows the decision.",
            id=intent.claim_id, files=len(intent.evidence),
        )  # fmt: skip
    if reconciled:
        text += " " + _(
            "The payment provider answered late; the portal checked the claim and confirmed "
            "that your answer was recorded once."
        )
    return str(text)


def claim_failure(result: ClaimResult) -> str:
    """Why the answer did not (or may not) reach the provider, and what to do."""
    code = result.problem_code
    if code == "invalid_state":
        return str(
            _(
                "The payment provider refused: this claim can no longer be answered (it has "
                "been answered already, or its deadline has passed). The page shows it as it is."
            )
        )
    param = result.error.param if result.error else None
    if code == "invalid_request" and param == "text":
        return str(_("The payment provider refused the statement. Please check it and send again."))
    if code == "invalid_request" and param == "evidence":
        return str(
            _("The payment provider refused the evidence files. Please check them and send again.")
        )
    return failure_sentence(code)


def contestation_message(error: ContestationError) -> str:
    """The words for a `ContestationError`."""
    reason, name = error.reason, error.filename
    messages = {
        "text_missing": _("Please say why you contest the claim."),
        "text_too_long": _("The statement may have at most %(n)d characters.", n=MAX_TEXT),
        "too_many_files": _("Please choose at most %(n)d files.", n=MAX_FILES),
        "file_type": _("%(name)s is not a PDF, PNG or JPEG file.", name=name),
        "file_too_large": _("%(name)s is larger than %(n)d MB.", name=name, n=MAX_FILE // MB),
        "files_too_large": _(
            "The files together are larger than %(n)d MB.", n=MAX_FILES_TOTAL // MB
        ),
    }
    return str(messages[reason])
