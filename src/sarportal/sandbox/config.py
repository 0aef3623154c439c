"""The sandbox's settings: the command-line flags of design §8, also usable from tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

READ = "transactions:read"
WRITE = "transactions:write"


@dataclass(frozen=True)
class Client:
    """An OAuth2 client: its secret, the merchant whose data it sees, and its scopes."""

    client_id: str
    secret: str
    merchant_no: int
    scopes: frozenset[str]


BUILT_IN_CLIENTS = (
    Client("demo-viewer", "demo-viewer-secret", 1, frozenset({READ})),
    Client("demo-operator", "demo-operator-secret", 1, frozenset({READ, WRITE})),
    Client("other-operator", "other-operator-secret", 2, frozenset({READ, WRITE})),
)


@dataclass(frozen=True)
class Merchant:
    merchant_no: int
    name: str
    shops: tuple[str, ...]
    order_prefix: str


MERCHANTS = (
    Merchant(
        1,
        "Musterhaus GmbH",
        ("musterhaus-de", "musterhaus-at", "musterhaus-ch", "musterhaus-b2b"),
        "MH",
    ),
    Merchant(2, "Beispiel Versand AG", ("beispiel-versand",), "BV"),
)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes a sandbox run; the same seed and day give the same data."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8443
    transactions: int = 50_000
    seed: int = 1
    rate_limit: float = 0.0  # requests a second per client; 0: unlimited
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    pii_canary: bool = False
    token_ttl: int = 3600
    hang_seconds: float = 30.0
    backlog_days: int = 0  # recent days whose orders are not captured or cancelled yet
    export: bool = True  # offer the CSV export (a provider without it speaks only the list)
    now: int | None = None  # the data's "today" as epoch seconds; None: the current time
    # Payouts are weekly by contract; "month" (calendar months, UTC) is a sandbox-only setting
    # that gives benchmarks payouts of ~100,000 lines.
    payout_interval: str = "week"
    clients: tuple[Client, ...] = field(default=BUILT_IN_CLIENTS)
