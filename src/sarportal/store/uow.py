"""The unit of work: one transaction, rolled back unless `commit()` is called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from sarportal.config import Clock
from sarportal.store.approvals import Approvals
from sarportal.store.bulk import BulkJobs
from sarportal.store.claim_assignees import ClaimAssignees
from sarportal.store.crypto import SecretBox
from sarportal.store.repositories import (
    AuditLog,
    Credentials,
    Invitations,
    Organisations,
    RecoveryCodes,
    Sessions,
    Tokens,
    Users,
)
from sarportal.store.saved_views import SavedViews


class UnitOfWork:
    """Repositories over one database session; leaving the block without commit rolls back."""

    organisations: Organisations
    users: Users
    recovery_codes: RecoveryCodes
    credentials: Credentials
    tokens: Tokens
    sessions: Sessions
    invitations: Invitations
    audit: AuditLog
    saved_views: SavedViews
    approvals: Approvals
    bulk: BulkJobs
    claim_assignees: ClaimAssignees

    def __init__(self, factory: sessionmaker[Session], box: SecretBox, clock: Clock) -> None:
        self._factory = factory
        self.box = box
        self.clock = clock
        self._session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        session = self._factory()
        self._session = session
        self.organisations = Organisations(session, self.clock)
        self.users = Users(session, self.box, self.clock)
        self.recovery_codes = RecoveryCodes(session, self.clock)
        self.credentials = Credentials(session, self.box, self.clock)
        self.tokens = Tokens(session, self.clock)
        self.sessions = Sessions(session)
        self.invitations = Invitations(session, self.clock)
        self.audit = AuditLog(session, self.clock)
        self.saved_views = SavedViews(session, self.clock)
        self.approvals = Approvals(session, self.clock)
        self.bulk = BulkJobs(session, self.clock)
        self.claim_assignees = ClaimAssignees(session, self.clock)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the loaded objects
        # without expiring them, so values read inside the block stay readable after it.
        self.session.close()
        self._session = None

    @property
    def session(self) -> Session:
        """The SQLAlchemy session of this unit of work (only inside the `with` block)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use it in a `with` block")
        return self._session

    def commit(self) -> None:
        """Make every change of this unit of work permanent."""
        self.session.commit()

    def flush(self) -> None:
        """Send pending changes to the database (to obtain ids) without committing."""
        self.session.flush()

    def rollback(self) -> None:
        """Discard every change not yet committed."""
        self.session.rollback()
