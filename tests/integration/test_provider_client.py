"""The provider client against the real sandbox over TLS: paging, tokens, retries, errors."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from sarportal.provider import Credentials, InsecureProviderURL, Provider, ProviderConfig
from sarportal.provider.errors import (
    AmountExceedsAvailable,
    IdempotencyConflict,
    InvalidState,
    ProviderForbidden,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderTLSError,
    ProviderUnavailable,
)
from tests.fixtures.sandbox import SECRETS, SandboxHandle

OPERATOR = Credentials("demo-operator", SECRETS["demo-operator"])
VIEWER = Credentials("demo-viewer", SECRETS["demo-viewer"])
OTHER = Credentials("other-operator", SECRETS["other-operator"])


def _provider(handle: SandboxHandle, **settings: Any) -> Provider:
    settings.setdefault("backoff_base", 0.01)
    return Provider(ProviderConfig(handle.url, ca_bundle=handle.ca, **settings))


@pytest.fixture
def provider(sandbox: SandboxHandle) -> Any:
    client = _provider(sandbox)
    yield client
    client.close()


def test_pages_are_typed_and_auto_paging_walks_all(provider: Provider) -> None:
    session = provider.session(VIEWER)
    page = session.list_transactions({"status": ["captured"], "include_total": True})
    assert page.total_count is not None and page.total_count > 0
    assert all(t.status == "captured" for t in page.data)
    everything = list(session.iter_transactions({"status": "captured"}, page_size=500))
    assert len(everything) == page.total_count
    assert len({t.id for t in everything}) == len(everything)


def test_detail_carries_customer_items_and_events(provider: Provider) -> None:
    session = provider.session(VIEWER)
    summary = session.list_transactions({"limit": 1, "status": "refunded"}).data[0]
    detail = session.transaction(summary.id)
    assert detail.id == summary.id and detail.customer.id == summary.customer_id
    assert sum(line.total_amount for line in detail.items) == detail.amount
    assert detail.events[0].type == "authorization"
    others = session.customer_transactions(summary.customer_id)
    assert summary.id in {t.id for t in others.data}


def test_another_merchants_transaction_is_not_found(provider: Provider) -> None:
    theirs = provider.session(OTHER).list_transactions({"limit": 1}).data[0]
    with pytest.raises(ProviderNotFound):
        provider.session(OPERATOR).transaction(theirs.id)
    with pytest.raises(ProviderNotFound):
        provider.session(OPERATOR).transaction("../oauth/token")


def test_viewer_credentials_cannot_write(provider: Provider, fresh_rows: Any) -> None:
    row = fresh_rows.take("authorized")
    with pytest.raises(ProviderForbidden):
        provider.session(VIEWER).capture(row["id"], 1, idempotency_key=str(uuid.uuid4()))


def test_refusals_map_to_the_error_tree(provider: Provider, fresh_rows: Any) -> None:
    session = provider.session(OPERATOR)
    row = fresh_rows.take("authorized")
    with pytest.raises(AmountExceedsAvailable) as too_much:
        session.capture(row["id"], row["amount"] + 1, idempotency_key=str(uuid.uuid4()))
    assert too_much.value.param == "amount" and too_much.value.request_id
    declined = fresh_rows.take("declined")
    with pytest.raises(InvalidState):
        session.cancel(declined["id"], idempotency_key=str(uuid.uuid4()))
    key = str(uuid.uuid4())
    session.capture(row["id"], 1, idempotency_key=key)
    with pytest.raises(IdempotencyConflict):
        session.capture(row["id"], 2, idempotency_key=key)


def test_same_key_twice_applies_once(provider: Provider, fresh_rows: Any) -> None:
    session = provider.session(OPERATOR)
    row = fresh_rows.take("captured")
    key = str(uuid.uuid4())
    first = session.refund(row["id"], 100, "damaged", idempotency_key=key)
    second = session.refund(row["id"], 100, "damaged", idempotency_key=key)
    assert first.id == second.id
    assert session.transaction(row["id"]).refunded_amount == row["refunded_amount"] + 100


def test_token_is_cached_and_refreshed_once_after_401(make_sandbox: Any) -> None:
    handle = make_sandbox()
    provider = _provider(handle)
    session = provider.session(VIEWER)
    session.list_transactions({"limit": 1})
    session.list_transactions({"limit": 1})
    assert len(handle.running.app.tokens._grants) == 1
    handle.running.app.tokens.expire_all()
    assert session.list_transactions({"limit": 1}).data
    assert len(handle.running.app.tokens._grants) == 1
    provider.close()


@pytest.mark.parametrize("kind", ["error_500", "error_503", "truncated", "malformed"])
def test_reads_survive_a_passing_fault(make_sandbox: Any, kind: str) -> None:
    handle = make_sandbox()
    provider = _provider(handle)
    handle.running.app.faults.schedule(kind, "/v1/transactions", "GET", 2)
    page = provider.session(VIEWER).list_transactions({"limit": 3})
    assert len(page.data) == 3
    provider.close()


def test_reads_fail_clearly_when_the_fault_persists(make_sandbox: Any) -> None:
    handle = make_sandbox()
    provider = _provider(handle, max_retries=2)
    handle.running.app.faults.schedule("error_500", "/v1/transactions", "GET", 10)
    with pytest.raises(ProviderUnavailable):
        provider.session(VIEWER).list_transactions({"limit": 3})
    provider.close()


def test_write_timeout_after_it_applied_is_retried_and_replayed(make_sandbox: Any) -> None:
    handle = make_sandbox(hang_seconds=1.5)
    provider = _provider(handle, read_timeout=0.5)
    session = provider.session(OPERATOR)
    row = session.list_transactions({"limit": 1, "status": "captured"}).data[0]
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 1)
    action = session.refund(row.id, 50, "test", idempotency_key=str(uuid.uuid4()))
    assert action.transaction.refunded_amount == row.refunded_amount + 50
    assert session.transaction(row.id).refunded_amount == row.refunded_amount + 50
    provider.close()


def test_write_timeout_without_retries_reports_unknown_outcome(make_sandbox: Any) -> None:
    handle = make_sandbox(hang_seconds=1.0)
    provider = _provider(handle, read_timeout=0.3, max_retries=0)
    session = provider.session(OPERATOR)
    row = session.list_transactions({"limit": 1, "status": "captured"}).data[0]
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 1)
    with pytest.raises(ProviderTimeout):
        session.refund(row.id, 50, "test", idempotency_key=str(uuid.uuid4()))
    provider.close()


def test_rate_limit_is_waited_out(make_sandbox: Any) -> None:
    handle = make_sandbox(rate_limit=2)
    provider = _provider(handle)
    session = provider.session(VIEWER)
    for _ in range(5):
        assert session.list_transactions({"limit": 1}).data
    provider.close()
    impatient = _provider(handle, max_retries=0)
    with pytest.raises(ProviderRateLimited) as limited:
        for _ in range(5):
            impatient.session(VIEWER).list_transactions({"limit": 1})
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    impatient.close()


def test_plain_http_url_is_refused() -> None:
    with pytest.raises(InsecureProviderURL):
        ProviderConfig("http://127.0.0.1:8443")


def test_unknown_ca_is_a_tls_error_logged_without_secrets(
    sandbox: SandboxHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    provider = Provider(ProviderConfig(sandbox.url, ca_bundle=other_ca))
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderTLSError) as failed:
        provider.session(OPERATOR).list_transactions({"limit": 1})
    assert "could not be verified" in str(failed.value)
    assert caplog.records and SECRETS["demo-operator"] not in caplog.text
    provider.close()


def test_system_store_does_not_trust_the_sandbox(sandbox: SandboxHandle) -> None:
    provider = Provider(ProviderConfig(sandbox.url))
    with pytest.raises(ProviderTLSError):
        provider.ping()
    provider.close()


def test_ping_answers_over_verified_tls(provider: Provider) -> None:
    provider.ping()
    assert isinstance(provider._http, httpx.Client)
