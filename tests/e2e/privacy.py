"""Looking for the sandbox's PII canary everywhere the portal could have kept something."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANARY = re.compile(rb"PIICANARY[0-9a-f]{12}")


@dataclass
class Hit:
    where: str
    marker: str

    def __str__(self) -> str:
        return f"{self.where}: {self.marker}"


def scan(sources: Iterable[tuple[str, bytes]]) -> list[Hit]:
    """Every canary marker in the given (where, content) pairs."""
    return [
        Hit(where, match.group(0).decode())
        for where, content in sources
        for match in CANARY.finditer(content)
    ]


def files(root: Path, label: str) -> Iterator[tuple[str, bytes]]:
    """Every file under `root`, read as bytes (SQLite databases and their journals included)."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield f"{label}/{path.relative_to(root)}", path.read_bytes()


def redis_values(url: str) -> Iterator[tuple[str, bytes]]:
    """Every key and value of the Redis database at `url` (strings, lists, hashes, sets)."""
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        name = f"redis:{key.decode(errors='replace')}"
        yield name, key
        if kind == "string":
            yield name, client.get(key) or b""
        elif kind == "list":
            yield name, b"\n".join(client.lrange(key, 0, -1))
        elif kind == "hash":
            yield name, b"\n".join(k + b"=" + v for k, v in client.hgetall(key).items())
        elif kind == "set":
            yield name, b"\n".join(client.smembers(key))
        elif kind == "zset":
            yield name, b"\n".join(client.zrange(key, 0, -1))


def postgres_rows(url: str) -> Iterator[tuple[str, bytes]]:
    """Every row of every table in the database's public schema, as text."""
    import psycopg

    with psycopg.connect(url) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        for (table,) in tables:
            query = f'SELECT t::text FROM "{table}" AS t'  # noqa: S608 - names from the catalogue
            for (row,) in connection.execute(query):
                yield f"postgresql:{table}", row.encode()


@dataclass
class Recorder:
    """Every answer the walk received, to check caching headers on those with personal data."""

    answers: list[tuple[str, int, dict[str, str], bytes]] = field(default_factory=list)

    def record(self, response: Any) -> Any:
        response.read()
        headers = {k.lower(): v for k, v in response.headers.items()}
        self.answers.append(
            (str(response.request.url), response.status_code, headers, response.content)
        )
        return response

    def personal_answers_without_no_store(self) -> list[str]:
        return [
            f"{status} {url}"
            for url, status, headers, body in self.answers
            if CANARY.search(body) and "no-store" not in headers.get("cache-control", "")
        ]

    def personal_answers(self) -> int:
        return sum(1 for *_, body in self.answers if CANARY.search(body))
