"""A statistics job's state in Redis, written by workers and read by the web process.

Every key starts with `sarportal:job:` and has a TTL (`running_ttl` while the job runs, then
`result_ttl`). For job `<id>`:

    sarportal:job:<id>              hash: user, key, state, created_at, finished_at, error,
                                          time_zone, previous_period, period_start, period_end,
                                          shards_total, shards_done (atomic counter), writes
    sarportal:job:<id>:progress     hash: <n>:pages, <n>:rows, <n>:total per shard n
    sarportal:job:<id>:partials     hash: <n> → the shard's `Aggregate.to_dict()` JSON (replaced,
                                          never added to, so a redelivered shard counts once)
    sarportal:job:<id>:done         set of finished shard numbers
    sarportal:job:<id>:workers      hash: <n> → the worker that ran shard n
    sarportal:job:<id>:result       the figures JSON, once the job succeeded
    sarportal:job:by-request:<sha256 of user id, filters, time zone>  → the latest job id
    sarportal:job:user:<user id>:active   sorted set: the user's admitted jobs → creation time

Aggregates hold counts and sums that identify nobody; no key holds a secret or customer data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis

from sarportal.jobs import FINISHED_STATES, JobState, JobView, StatsRequest, codes
from sarportal.jobs.work import partial_figures, result_figures
from sarportal.stats import Aggregate, Partial, merge
from sarportal.stats.engine import estimated_total

PREFIX = "sarportal:job:"
# KEYS[1]: a request's index; ARGV: the new job id, the id it may replace ("" none), force, TTL.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if ARGV[3] == '1' or (current or '') == ARGV[2] then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
    return ARGV[1]
end
return current
"""
_PARTS = ("", ":progress", ":partials", ":done", ":workers", ":result")
# KEYS[1]: a user's admitted jobs (sorted set: id → creation time); ARGV: the new job's id, its
# creation time, the limit, the TTL, the job key prefix. Admits the job (answers 1) unless the
# user's other queued or running jobs reach the limit: then answers the oldest one's id. Jobs
# that ended (or expired) leave the set here. One script: submissions racing cannot both pass.
_ADMIT = """
local active = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[1] then
    local state = redis.call('HGET', ARGV[5] .. id, 'state')
    if state == 'queued' or state == 'running' then
      table.insert(active, id)
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
if #active >= tonumber(ARGV[3]) then return active[1] end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# Move a job to a new state only from one of the allowed ones (atomic).
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
for i = 4, #ARGV do
  if state == ARGV[i] then
    redis.call('HSET', KEYS[1], 'state', ARGV[1])
    if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'finished_at', ARGV[2]) end
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
    return 1
  end
end
return 0
"""

_NO_PROGRESS: dict[str, int | None] = {
    "shards_total": 0,
    "shards_done": 0,
    "pages": 0,
    "rows": 0,
    "estimated_total": None,
}


def job_key(job_id: str, part: str = "") -> str:
    """The Redis key of one part of a job."""
    return f"{PREFIX}{job_id}{part}"


def request_index_key(digest: str) -> str:
    """The key that finds a user's latest job for one request."""
    return f"{PREFIX}by-request:{digest}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class JobMeta:
    """The job hash, read."""

    id: str
    user_id: int
    key: str
    state: JobState
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    time_zone: str
    previous_period: bool
    period_start: datetime | None
    period_end: datetime | None
    shards_total: int
    shards_done: int
    writes: int


class RedisState:
    """Reads and writes of job state; shared by the web process and the workers."""

    def __init__(
        self, client: redis.Redis, *, result_ttl: timedelta, running_ttl: timedelta
    ) -> None:
        self.redis = client
        self.result_ttl = result_ttl
        self.running_ttl = running_ttl
        self._transition = client.register_script(_TRANSITION)

    @classmethod
    def from_url(cls, url: str, *, result_ttl: timedelta, running_ttl: timedelta) -> RedisState:
        return cls(redis.Redis.from_url(url), result_ttl=result_ttl, running_ttl=running_ttl)

    # -- the web side -------------------------------------------------------------------------

    def create(
        self,
        job_id: str,
        user_id: int,
        digest: str,
        request: StatsRequest,
        created_at: datetime,
        *,
        replacing: str | None = None,
        force: bool = False,
    ) -> str:
        """Record a queued job and make it the one found for its request, atomically: only if
        the request's job is still `replacing` (None: none yet), or always with `force`. The id
        of the job found for the request afterwards: this one, or the one that came first."""
        fields = {
            "user": user_id,
            "key": digest,
            "state": "queued",
            "created_at": _iso(created_at),
            "time_zone": request.time_zone,
            "previous_period": int(request.previous_period),
            "shards_total": 0,
            "shards_done": 0,
            "writes": 0,
        }
        pipe = self.redis.pipeline()
        pipe.hset(job_key(job_id), mapping=fields)
        pipe.expire(job_key(job_id), self.running_ttl)
        pipe.execute()
        winner = self.redis.eval(
            _CLAIM, 1, request_index_key(digest), job_id, replacing or "", int(force),
            int(self.running_ttl.total_seconds()),
        )  # fmt: skip
        found = cast(bytes, winner).decode()
        if found != job_id:
            self.redis.delete(job_key(job_id))  # another submission of the same request won
        return found

    def admit(self, user_id: int, job_id: str, created_at: datetime, limit: int) -> str | None:
        """Count the queued job among the user's running ones: None when it fits within
        `limit`, else (nothing changed) the id of the user's oldest running job."""
        answer = cast(int | bytes, self.redis.eval(
            _ADMIT, 1, f"{PREFIX}user:{user_id}:active", job_id, created_at.timestamp(), limit,
            int(self.running_ttl.total_seconds()), PREFIX,
        ))  # fmt: skip
        return None if isinstance(answer, int) else answer.decode()

    def discard(self, job_id: str) -> None:
        """Forget a job that was never started."""
        self.redis.delete(job_key(job_id))

    def find(self, digest: str) -> str | None:
        """The latest job id for a request digest."""
        found = self.redis.get(request_index_key(digest))
        return None if found is None else cast(bytes, found).decode()

    def meta(self, job_id: str) -> JobMeta | None:
        raw = cast(dict[bytes, bytes], self.redis.hgetall(job_key(job_id)))
        if not raw or b"state" not in raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return JobMeta(
            id=job_id,
            user_id=int(data["user"]),
            key=data.get("key", ""),
            state=cast(JobState, data["state"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            finished_at=_time(data.get("finished_at")),
            error=data.get("error") or None,
            time_zone=data.get("time_zone", "UTC"),
            previous_period=data.get("previous_period") == "1",
            period_start=_time(data.get("period_start")),
            period_end=_time(data.get("period_end")),
            shards_total=int(data.get("shards_total", 0)),
            shards_done=int(data.get("shards_done", 0)),
            writes=int(data.get("writes", 0)),
        )

    def progress(self, meta: JobMeta) -> dict[str, int | None]:
        """Shards, pages and rows so far, summed over the shards' counters."""
        raw = cast(dict[bytes, bytes], self.redis.hgetall(job_key(meta.id, ":progress")))
        sums = {"pages": 0, "rows": 0, "total": 0}
        totals = 0
        for field, value in raw.items():
            _, name = field.decode().split(":", 1)
            sums[name] += int(value)
            totals += name == "total"
        return {
            "shards_total": meta.shards_total,
            "shards_done": min(meta.shards_done, meta.shards_total),
            "pages": sums["pages"],
            "rows": sums["rows"],
            "estimated_total": estimated_total(sums["total"], totals, meta.shards_total),
        }

    def result(self, job_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(job_key(job_id, ":result"))
        return None if raw is None else cast(dict[str, Any], json.loads(cast(bytes, raw)))

    def partial(self, meta: JobMeta) -> dict[str, Any] | None:
        """The figures over what the shards have aggregated so far (None before any page)."""
        if meta.period_end is None or meta.writes == 0:
            return None
        current, previous = self._merged(meta)
        return partial_figures(Partial(current, previous), meta.period_start, meta.period_end)

    def view(self, meta: JobMeta, partial: dict[str, Any] | None = None) -> JobView:
        progress = self.progress(meta) if meta.state != "queued" else dict(_NO_PROGRESS)
        return JobView(
            id=meta.id,
            state=meta.state,
            progress=progress,
            result=self.result(meta.id) if meta.state == "succeeded" else None,
            partial=partial if meta.state == "running" else None,
            error=meta.error,
            created_at=meta.created_at,
            finished_at=meta.finished_at,
        )

    # -- state changes ------------------------------------------------------------------------

    def move(
        self,
        job_id: str,
        to: JobState,
        allowed: Iterable[str],
        *,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> bool:
        """Change the state if it is one of `allowed`; a finished job keeps its keys for
        `result_ttl` from now on."""
        finished = to in FINISHED_STATES
        when = finished_at or (datetime.now(UTC) if finished else None)
        args = [to, _iso(when) if when else "", error or "", *allowed]
        moved = bool(self._transition(keys=[job_key(job_id)], args=args))
        if moved and finished:
            self._expire_all(job_id, self.result_ttl)
        return moved

    def fail(self, job_id: str, error: str) -> bool:
        return self.move(job_id, "failed", ("queued", "running"), error=error)

    def cancel(self, job_id: str) -> bool:
        return self.move(job_id, "cancelled", ("queued", "running"), error=codes.CANCELLED)

    def halted(self, job_id: str) -> bool:
        """Whether the job's shards should stop (it ended, or its state expired)."""
        state = self.redis.hget(job_key(job_id), "state")
        return state is None or cast(bytes, state).decode() in FINISHED_STATES

    def _expire_all(self, job_id: str, ttl: timedelta) -> None:
        pipe = self.redis.pipeline()
        for part in _PARTS:
            pipe.expire(job_key(job_id, part), ttl)
        digest = self.redis.hget(job_key(job_id), "key")
        if digest:
            index = request_index_key(cast(bytes, digest).decode())
            if self.redis.get(index) == job_id.encode():
                pipe.expire(index, ttl)
        pipe.execute()

    # -- the worker side ----------------------------------------------------------------------

    def planned(
        self,
        job_id: str,
        start: datetime | None,
        end: datetime,
        shards_total: int,
        *,
        previous_period: bool,
    ) -> None:
        """Record the period, whether the previous one is compared, and the number of shards."""
        fields: dict[str, str | int] = {
            "period_end": _iso(end),
            "shards_total": shards_total,
            "previous_period": int(previous_period),
        }
        if start is not None:
            fields["period_start"] = _iso(start)
        self.redis.hset(job_key(job_id), mapping=fields)

    def shard_finished_before(self, job_id: str, number: int) -> bool:
        return bool(self.redis.sismember(job_key(job_id, ":done"), str(number)))

    def write_shard(
        self,
        job_id: str,
        number: int,
        aggregate: Aggregate,
        *,
        period: str,
        pages: int,
        rows: int,
        total: int | None,
        worker: str,
    ) -> None:
        """Replace shard `number`'s partial aggregate and counters (counters never go down)."""
        progress = job_key(job_id, ":progress")
        known = cast(
            list[bytes | None], self.redis.hmget(progress, [f"{number}:pages", f"{number}:rows"])
        )
        counters: dict[str, int] = {
            f"{number}:pages": max(pages, int(known[0] or 0)),
            f"{number}:rows": max(rows, int(known[1] or 0)),
        }
        if total is not None:
            counters[f"{number}:total"] = total
        partial = json.dumps({"period": period, "aggregate": aggregate.to_dict()})
        pipe = self.redis.pipeline()
        pipe.hset(job_key(job_id, ":partials"), str(number), partial)
        pipe.hset(progress, mapping=counters)
        pipe.hset(job_key(job_id, ":workers"), str(number), worker)
        pipe.hincrby(job_key(job_id), "writes", 1)
        for part in (":partials", ":progress", ":workers"):
            pipe.expire(job_key(job_id, part), self.running_ttl)
        pipe.execute()

    def finish_shard(self, job_id: str, number: int) -> bool:
        """Count shard `number` as done (once); True when it was the last one."""
        if not self.redis.sadd(job_key(job_id, ":done"), str(number)):
            return False
        self.redis.expire(job_key(job_id, ":done"), self.running_ttl)
        done = int(cast(int, self.redis.hincrby(job_key(job_id), "shards_done", 1)))
        meta = self.meta(job_id)
        return meta is not None and done == meta.shards_total

    def succeed(self, job_id: str) -> bool:
        """Merge the shards' aggregates into the result and mark the job succeeded."""
        meta = self.meta(job_id)
        if meta is None or meta.period_end is None:
            return False
        current, previous = self._merged(meta)
        figures = result_figures(current, previous, meta.period_start, meta.period_end)
        return self.store_result(job_id, figures)

    def store_result(self, job_id: str, figures: dict[str, Any]) -> bool:
        """Keep `figures` as the result and mark the job succeeded (unless it ended before)."""
        self.redis.set(job_key(job_id, ":result"), json.dumps(figures), ex=self.result_ttl)
        if not self.move(job_id, "succeeded", ("running",)):
            self.redis.delete(job_key(job_id, ":result"))
            return False
        self.redis.delete(job_key(job_id, ":partials"), job_key(job_id, ":done"))
        return True

    def _merged(self, meta: JobMeta) -> tuple[Aggregate, Aggregate | None]:
        raw = cast(dict[bytes, bytes], self.redis.hgetall(job_key(meta.id, ":partials")))
        periods: dict[str, list[Aggregate]] = {"current": [], "previous": []}
        for value in raw.values():
            shard = json.loads(value)
            periods[shard["period"]].append(Aggregate.from_dict(shard["aggregate"]))
        current = merge(*periods["current"], time_zone=meta.time_zone)
        previous = None
        if meta.previous_period:
            previous = merge(*periods["previous"], time_zone=meta.time_zone)
        return current, previous
