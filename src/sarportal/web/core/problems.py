"""The one table of what went wrong: a stable code → the HTTP status, a title and a text.

Every place that tells people about a failure reads it from here: error pages and problem+json
answers (`errors.error_response`), the inline alerts of the table and the action dialog, and the
statistics jobs, which keep only the code (`jobs.work.failure_code`) so that a failed job reads
in the language of whoever looks at it. A provider error names its code itself
(`ProviderError.portal_code`); the provider's own text never reaches a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from flask_babel import lazy_gettext as _l

from sarportal.jobs import codes as job_codes


@dataclass(frozen=True)
class Problem:
    """How the portal answers a failure: `title` and `text` are translated when shown."""

    status: int
    title: Any
    text: Any

    def detail(self, **values: object) -> str:
        """The text in the request's language, with `values` filled in (`%(limit)s`)."""
        text = str(self.text)
        return text % values if values else text


_REFUSED = _l("The provider refused the action")
_PROVIDER_DOWN = Problem(
    503,
    _l("The payment provider is not answering"),
    _l(
        "The payment provider could not be reached or did not answer in time. "
        "Nothing was changed. Please try again in a moment."
    ),
)

PROBLEMS: Final[dict[str, Problem]] = {
    # -- the provider, as the user's credentials see it
    "provider_unavailable": _PROVIDER_DOWN,
    "provider_untrusted": Problem(
        502,
        _l("The provider's identity could not be verified"),
        _l(
            "The portal refused to connect because the payment provider's certificate "
            "could not be verified. No data was shown. Please tell your administrator."
        ),
    ),
    "provider_credentials_refused": Problem(
        502,
        _l("The provider refused your credentials"),
        _l(
            "The payment provider did not accept the credentials of your account. "
            "Please ask an administrator of your organisation to check them."
        ),
    ),
    "provider_forbidden": Problem(
        403,
        _l("Not allowed by the provider"),
        _l(
            "Your provider credentials do not allow this. "
            "Please ask an administrator of your organisation."
        ),
    ),
    job_codes.NO_CREDENTIALS: Problem(
        409,
        _l("No provider access yet"),
        _l(
            "Your account has no credentials for the payment provider yet. "
            "Please ask an administrator of your organisation to set them on the users page."
        ),
    ),
    job_codes.NO_PROVIDER: Problem(
        503,
        _l("No payment provider is configured"),
        _l("This portal is not connected to a payment provider. Please tell your administrator."),
    ),
    "not_found": Problem(
        404,
        _l("Transaction not found"),
        _l("There is no such transaction for your merchant account."),
    ),
    "invalid_request": Problem(
        400,
        _l("The request could not be used"),
        _l("The payment provider did not accept the request. Please check your input."),
    ),
    # -- refund, capture and cancel
    "refused": Problem(
        409, _REFUSED, _l("The transaction's current state does not allow this action.")
    ),
    "invalid_state": Problem(
        409,
        _REFUSED,
        _l(
            "The payment provider refused: the transaction's current state no longer allows "
            "this. The form now shows what is possible."
        ),
    ),
    "amount_exceeds_available": Problem(
        422,
        _REFUSED,
        _l(
            "The payment provider refused: the amount is more than is available now. "
            "The form now shows the current maximum."
        ),
    ),
    "idempotency_conflict": Problem(
        409,
        _l("Already being processed"),
        _l(
            "This action is already being processed (it was probably sent twice). "
            "Please wait a moment and reload the page to see the result."
        ),
    ),
    "not_applied": Problem(
        503,
        _l("The action was not carried out"),
        _l(
            "The payment provider did not answer in time, and the action was not carried out. "
            "You can send it again: it cannot be carried out twice."
        ),
    ),
    "outcome_unknown": Problem(
        502,
        _l("Outcome unknown"),
        _l(
            "The payment provider did not answer, and the portal could not check whether the "
            "action was carried out. Please reload the page in a moment and check the amounts. "
            "Sending this form again is safe: it cannot be carried out twice."
        ),
    ),
    "outcome_unclear": Problem(
        502,
        _l("Please check the transaction"),
        _l(
            "The payment provider answered late, and the transaction has changed in a way that "
            "does not match this action alone. Please check its history before you try again."
        ),
    ),
    "step_up_required": Problem(
        403,
        _l("Please confirm your password"),
        _l("Please confirm your password on the transaction's page, then try again."),
    ),
    # -- statistics jobs
    job_codes.FILTERS_REFUSED: Problem(
        400,
        _l("The payment provider did not accept these filters"),
        _l("Please change or clear the filters and try again."),
    ),
    job_codes.FAILED: Problem(
        500,
        _l("The statistics could not be computed"),
        _l("Something went wrong while counting your transactions. Please try again."),
    ),
    job_codes.CANCELLED: Problem(
        409,
        _l("The statistics were cancelled"),
        _l("Please reload the figures to compute them again."),
    ),
    "jobs_unavailable": Problem(
        503,
        _l("Statistics are temporarily unavailable"),
        _l(
            "The statistics service is not available at the moment; nothing was computed. "
            "Please try again in a few minutes."
        ),
    ),
    "too_many_jobs": Problem(
        429,
        _l("Too many statistics jobs"),
        _l(
            "At most %(limit)s statistics jobs can run at once for you, and that many are "
            "running. Wait until one has finished (or cancel one), then try again."
        ),
    ),
    # -- saved views
    "view_not_found": Problem(
        404,
        _l("View not found"),
        _l("There is no such view, or it is private to somebody else."),
    ),
    "view_forbidden": Problem(
        403,
        _l("This view is not yours to change"),
        _l(
            "Only a view's owner can change it. An administrator can also rename or delete a "
            "view that is shared with the organisation."
        ),
    ),
    "view_name_invalid": Problem(
        400,
        _l("Please check the name"),
        _l("A view's name needs 1 to 80 characters: letters, digits, spaces or punctuation."),
    ),
    "view_name_email": Problem(
        400,
        _l("Please check the name"),
        _l("A view's name cannot contain an e-mail address: views never name people."),
    ),
    "view_name_taken": Problem(
        409,
        _l("The name is taken"),
        _l("You already have a view of this name on this page. Please choose another name."),
    ),
    "view_limit": Problem(
        409,
        _l("Too many views"),
        _l("You have as many views as one person can keep. Please delete one first."),
    ),
    "view_query_invalid": Problem(
        400,
        _l("These filters cannot be saved"),
        _l("The page's filters are not valid. Please correct them, then save the view."),
    ),
    "view_query_email": Problem(
        400,
        _l("These filters cannot be saved"),
        _l(
            "A filter holds an e-mail address, and views never keep anything that could name "
            "a person. Please filter by an order reference or another value instead."
        ),
    ),
    "view_default_unshared": Problem(
        409,
        _l("Only a shared view can be a default"),
        _l("Share the view with the organisation first, then make it a page's default."),
    ),
    # -- four-eyes approval
    "approval_not_found": Problem(
        404,
        _l("Request not found"),
        _l("There is no such request for approval in your organisation."),
    ),
    "approval_forbidden": Problem(
        403,
        _l("Not yours to decide"),
        _l("Only operators and administrators of the organisation decide requests for approval."),
    ),
    "approval_own": Problem(
        403,
        _l("You asked for this yourself"),
        _l(
            "A request needs a second person: another operator or administrator of your "
            "organisation approves or rejects it."
        ),
    ),
    "approval_decided": Problem(
        409,
        _l("Already decided"),
        _l(
            "Somebody decided this request first (or it was withdrawn). The approvals page "
            "shows who, and what happened."
        ),
    ),
    "approval_expired": Problem(
        409,
        _l("The request has expired"),
        _l(
            "Nobody decided this request in time, so nothing was sent. If the action is still "
            "wanted, ask for it again from the transaction's page."
        ),
    ),
    # -- bulk actions
    "bulk_not_found": Problem(
        404,
        _l("Bulk action not found"),
        _l("There is no such bulk action of yours."),
    ),
    "bulk_too_many": Problem(
        400,
        _l("Too many transactions"),
        _l(
            "A bulk action takes at most 1,000 transactions. Please narrow the filters (a "
            "shorter period, one shop) or split the file."
        ),
    ),
    "bulk_empty": Problem(
        400,
        _l("Nothing to do"),
        _l("None of the chosen transactions allows this action now."),
    ),
    "bulk_started": Problem(
        409,
        _l("Started already"),
        _l("This bulk action has been started already; its page shows how far it is."),
    ),
    "bulk_finished": Problem(
        409,
        _l("Finished already"),
        _l("This bulk action has ended; nothing is left to stop."),
    ),
    # -- the portal itself
    "csrf_failed": Problem(
        400,
        _l("The form has expired"),
        _l(
            "For your security, this form can only be sent from a current page of the portal. "
            "Please go back, reload the page and try again."
        ),
    ),
    "database_unavailable": Problem(
        503,
        _l("Temporarily unavailable"),
        _l(
            "The portal cannot reach its database at the moment, so nothing was changed. "
            "Please try again in a few minutes."
        ),
    ),
}


def problem(code: str | None, default: str = "provider_unavailable") -> Problem:
    """The entry for `code`, or `default`'s for a code not in the table."""
    return PROBLEMS.get(code or "") or PROBLEMS[default]
