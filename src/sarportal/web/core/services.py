"""The collaborators the views use, built once per app and reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from sarportal.auth.passwords import Passwords
from sarportal.auth.signin import Authenticator
from sarportal.auth.throttle import SignInThrottle, counters_for
from sarportal.bulk import BulkRunner, make_bulk_runner
from sarportal.config import Settings
from sarportal.jobs import Jobs, make_jobs
from sarportal.jobs.config import JobsConfig
from sarportal.jobs.work import provider_for
from sarportal.provider import Provider
from sarportal.store import Store
from sarportal.web.core.housekeeping import Housekeeping

EXTENSION = "sarportal"


@dataclass(frozen=True)
class Portal:
    """Settings, store, the sign-in machinery and the provider client of one app."""

    settings: Settings
    store: Store
    passwords: Passwords
    throttle: SignInThrottle
    authenticator: Authenticator
    provider: Provider | None
    jobs: Jobs
    housekeeping: Housekeeping
    bulk: BulkRunner

    @classmethod
    def build(cls, settings: Settings) -> Portal:
        """Wire the collaborators described by `settings`."""
        store = Store(settings)
        passwords = Passwords(settings.argon2)
        counters = counters_for(settings, store.engine)
        throttle = SignInThrottle(counters, settings)
        authenticator = Authenticator(store, passwords, throttle)
        provider = provider_for(settings)  # an http:// URL raises here: the portal refuses to start
        jobs = make_jobs(settings, store, provider)
        housekeeping = Housekeeping(store, counters, settings.housekeeping_every)
        config = JobsConfig.from_env()
        bulk = make_bulk_runner(settings, store, provider, config.rate_limit, config.bulk_lease)
        return cls(
            settings, store, passwords, throttle, authenticator, provider, jobs, housekeeping, bulk
        )

    def close(self) -> None:
        """Stop the housekeeping, cancel the jobs running in this process and release every
        connection."""
        self.housekeeping.close()
        self.jobs.close()
        if self.provider is not None:
            self.provider.close()
        self.store.dispose()


def portal() -> Portal:
    """The current app's collaborators."""
    found: Portal = current_app.extensions[EXTENSION]
    return found
