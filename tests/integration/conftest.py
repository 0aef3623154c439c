"""Fixtures of several integration modules: a claims sandbox of the module's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.sandbox import SandboxHandle
from tests.integration.helpers_claims import ClaimPicker, claims_sandbox


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """A sandbox of this test module's own, with enough open claims to answer."""
    with claims_sandbox(tmp_path_factory.mktemp("busy-claims")) as handle:
        yield handle


@pytest.fixture(scope="module")
def picker(busy: SandboxHandle) -> ClaimPicker:
    """Hands each test of the module claims no other test has taken."""
    return ClaimPicker(busy)
