"""What every request passes through, whatever page it asks for.

    services.py         the collaborators views use (store, provider, jobs), built once per app
    access.py           who may call which view; `g.user`; `wants_json`
    sessions.py         server-side sessions (the cookie holds a random id only)
    stepup.py           proving who you are again before a sensitive action
    security.py         CSP and the other headers on every response
    ratelimit.py        request budgets per user, shared by every process
    problems.py         the one error table: code → status, title, text
    errors.py           error pages and problem+json, with a support id
    provider_access.py  the signed-in user's provider session; provider errors as answers
    timing.py           the Server-Timing header
    ops.py              /healthz, /readyz, /metrics
    housekeeping.py     deleting what has expired, on a schedule
    serve.py            `sarportal serve`: the app under gunicorn

Nothing here imports `web.ui` or a room (`transactions`, `stats`, `people`, `api`).
"""
