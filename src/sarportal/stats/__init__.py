"""The statistics engine: filters → time shards → pages → columns → mergeable aggregates → figures.

Pure code: it takes plain values (filters, raw page bytes from an injected `fetch_page`) and returns
plain values (aggregates, JSON-ready figures). It imports no Flask, SQLAlchemy or httpx, so the
threads and the Celery back ends of `jobs/` run the very same code.

- `columns`: one provider list page (raw JSON) decoded straight into numpy columns.
- `calendar`: local days, ISO weeks and months in the user's time zone, vectorised.
- `aggregate`: the exact, mergeable partial aggregate, per currency.
- `figures`: the figures of domain.md computed from an aggregate (and the previous period's).
- `limiter`: a thread-safe token bucket that slows down on 429.
- `timestamps`: the provider's RFC 3339 times as epoch seconds, vectorised.
- `shards`: a created range cut into time slices, newest first.
- `engine`: runs a statistics job over the shards concurrently (`run`), or one shard for a
  worker that fans out (`fetch_shard`, `batched` + `Aggregate.fold`, merged with `merge`).
"""

from sarportal.stats.aggregate import Aggregate, merge
from sarportal.stats.columns import Columns, PageDecoder, Vocabularies
from sarportal.stats.engine import (
    Partial,
    Progress,
    Retries,
    RunCancelled,
    RunFailed,
    RunResult,
    StatsError,
    batched,
    fetch_shard,
    run,
)
from sarportal.stats.figures import figures
from sarportal.stats.limiter import TokenBucket
from sarportal.stats.shards import Shard, plan_shards

__all__ = [
    "Aggregate",
    "Columns",
    "PageDecoder",
    "Partial",
    "Progress",
    "Retries",
    "RunCancelled",
    "RunFailed",
    "RunResult",
    "Shard",
    "StatsError",
    "TokenBucket",
    "Vocabularies",
    "batched",
    "fetch_shard",
    "figures",
    "merge",
    "plan_shards",
    "run",
]
