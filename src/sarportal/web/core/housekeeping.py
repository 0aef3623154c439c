"""Housekeeping: what has expired is deleted on a schedule, in every web process.

Sessions past their idle or absolute timeout and sign-in counters past their window would
otherwise stay in the database until someone signed in (sessions) or forever (counters), and an
invitation that expired unaccepted would keep the provider secret it carried. Each
web process runs the deletes every `every` on a daemon thread; several processes doing so at
once is harmless, as each delete only removes what has expired.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sarportal.auth.throttle import Counters
from sarportal.store import Store

log = logging.getLogger("sarportal.housekeeping")


@dataclass(frozen=True)
class Purged:
    """How many rows one round deleted."""

    sessions: int
    counters: int
    invitation_secrets: int = 0


class Housekeeping:
    """Deletes expired sessions and counters every `every`, once started."""

    def __init__(self, store: Store, counters: Counters, every: timedelta) -> None:
        self._store = store
        self._counters = counters
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Purged:
        """One round of deletes, now."""
        settings = self._store.settings
        now = self._store.clock()
        with self._store.unit_of_work() as uow:
            sessions = uow.sessions.purge_idle(
                now - settings.session_idle, now - settings.session_absolute
            )
            secrets = uow.invitations.forget_expired_credentials()
            uow.commit()
        return Purged(sessions, self._counters.purge_expired(), secrets)

    def start(self) -> None:
        """Run a round every `every` on a daemon thread until `close()`."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="sarportal-housekeeping", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every.total_seconds()):
            try:
                purged = self.run_once()
            except Exception as exc:  # noqa: BLE001 (a round that fails is tried again later)
                log.warning("housekeeping round failed: %s", type(exc).__name__)
            else:
                if purged.sessions or purged.counters:
                    log.info(
                        "housekeeping: %d expired sessions, %d expired counters deleted",
                        purged.sessions,
                        purged.counters,
                    )

    def close(self) -> None:
        """Stop the thread (a round under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
