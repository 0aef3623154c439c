"""One error table: every code the portal can give a person is in it, in English and German."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import sarportal.web
from sarportal.jobs import codes as job_codes
from sarportal.provider import errors
from sarportal.web.api.transaction import ACTION_PROBLEMS
from sarportal.web.core.problems import PROBLEMS
from sarportal.web.transactions.table import INLINE_PROBLEMS

CATALOG = read_po(
    (Path(sarportal.web.__file__).parent / "translations/de/LC_MESSAGES/messages.po").open("rb")
)


def _provider_errors() -> list[type[errors.ProviderError]]:
    found, todo = [], [errors.ProviderError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


@pytest.mark.parametrize("kind", _provider_errors(), ids=lambda kind: kind.__name__)
def test_every_provider_error_names_a_code_of_the_table(kind: type[errors.ProviderError]) -> None:
    assert kind.portal_code in PROBLEMS


def test_every_job_code_and_every_code_a_page_or_the_api_gives_is_in_the_table() -> None:
    job = {value for name, value in vars(job_codes).items() if name.isupper()}
    assert job <= PROBLEMS.keys()
    assert PROBLEMS.keys() >= ACTION_PROBLEMS
    assert PROBLEMS.keys() >= INLINE_PROBLEMS


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_every_entry_reads_in_german_too(code: str) -> None:
    entry = PROBLEMS[code]
    assert 400 <= entry.status < 600
    for text in (entry.title, entry.text):
        found = CATALOG.get(text._args[0])  # the lazy string's message id
        assert found is not None and found.string and not found.fuzzy, text._args[0]
