"""Shared test set-up: fixture modules per part, and the rule for absent services."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.portal",
    "tests.fixtures.sandbox",
    "tests.fixtures.portal_provider",
    "tests.fixtures.jobs",
    "tests.fixtures.stats_pages",
]
