"""A claim's assignee: set on the claim's page or over the API, shown in the inbox, its CSV and
the claim's page, kept as one row per claim under racing requests, audited without personal data.

Against the shared sandbox (assigning changes nothing at the provider); ground truth for the
inbox is the sandbox's own list, for the store its table read directly.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, inspect, select

from sarportal.actions import Actor
from sarportal.claim_assignments import ClaimAssignments
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.engine import make_engine
from sarportal.store.migrate import alembic_config, upgrade
from sarportal.store.models import AuditEntry, ClaimAssigneeRow, User
from tests.fixtures.portal import MadeUser, csrf_token, new_client, sign_in_fully
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.served import PASSWORD, Portal, _free_port, running_portal

pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox's claims are relative to now

CLAIM_PATH = re.compile(r"^/claims/cl_[0-9a-f]{16}$")
EXPIRED_PAGE = "The form has expired"
REFUSED = "Please choose an active user of your organisation, or nobody."


def open_claims(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """The merchant's open claims as the provider lists them, soonest deadline first."""
    with sandbox.client("demo-viewer") as client:
        page = client.get("/v1/claims", params={"status": "open", "limit": 1000}).json()
    assert not page["has_more"] and len(page["data"]) > 3, "the sandbox has too few open claims"
    return list(page["data"])


def store_of(app: Flask) -> Store:
    found: Store = app.extensions["sarportal"].store
    return found


def stored(app: Flask) -> list[tuple[int, str, int | None, int | None]]:
    """Every assignee row: (organisation, claim, assignee, assigned by)."""
    with store_of(app).unit_of_work() as uow:
        rows = uow.session.scalars(select(ClaimAssigneeRow).order_by(ClaimAssigneeRow.claim_id))
        return [(r.organisation_id, r.claim_id, r.assignee_user_id, r.assigned_by) for r in rows]


def assigned_audit(app: Flask) -> list[AuditEntry]:
    with store_of(app).unit_of_work() as uow:
        query = select(AuditEntry).where(AuditEntry.action == "claim.assigned")
        return list(uow.session.scalars(query.order_by(AuditEntry.id)))


def signed_in(app: Flask, role: Role, **user: str) -> tuple[FlaskClient, MadeUser]:
    client = new_client(app)
    made = make_provider_user(app, role, **user)
    assert sign_in_fully(client, made, app.extensions["sarportal"].settings.clock()) == 303
    return client, made


def assign_form(client: FlaskClient, claim_id: str) -> dict[str, Any]:
    """The assignee form on the claim's page: its CSRF token, its options, the chosen one."""
    page = client.get(f"/claims/{claim_id}")
    assert page.status_code == 200
    form = BeautifulSoup(page.get_data(as_text=True), "html.parser").find(id="claim-assign")
    assert form is not None, "no assignee form on the page"
    options = form.find_all("option")
    return {
        "csrf_token": form.find("input", attrs={"name": "csrf_token"})["value"],
        "options": {option["value"]: option.get_text(strip=True) for option in options},
        "selected": [option["value"] for option in options if option.has_attr("selected")],
    }


def shown_assignee(client: FlaskClient, claim_id: str) -> str:
    page = BeautifulSoup(client.get(f"/claims/{claim_id}").get_data(as_text=True), "html.parser")
    found = page.find(id="claim-assignee")
    assert found is not None
    return str(found.get_text(strip=True))


def inbox(client: FlaskClient, query: str = "") -> dict[str, str]:
    """The inbox's rows: claim id → the Assignee cell, in the page's order."""
    answer = client.get(f"/claims{query}")
    assert answer.status_code == 200, answer.status_code
    page = BeautifulSoup(answer.get_data(as_text=True), "html.parser")
    rows = {}
    for row in page.select("table.portal-claims-table tbody tr"):
        link = row.find("a", href=CLAIM_PATH)
        rows[link.get_text(strip=True)] = row.find("td", attrs={"data-portal-assignee": True}).text
    return rows


def post_assignee(client: FlaskClient, claim_id: str, value: str, token: str | None) -> Any:
    data = {"assignee": value, **({"csrf_token": token} if token else {})}
    return client.post(f"/claims/{claim_id}/assignee", data=data)


# -- the page --------------------------------------------------------------------------------


def test_an_operator_assigns_a_claim_and_the_inbox_and_its_page_show_it(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    claim, other = open_claims(sandbox)[:2]
    operator, me = signed_in(provider_app, Role.OPERATOR)
    colleague = make_provider_user(provider_app, Role.VIEWER)
    form = assign_form(operator, claim["id"])
    assert form["options"][""] == "Nobody" and form["selected"] == [""]
    assert form["options"][str(colleague.id)] == colleague.email
    assert form["options"][str(me.id)] == me.email
    assert shown_assignee(operator, claim["id"]) == "Nobody"

    answer = post_assignee(operator, claim["id"], str(colleague.id), form["csrf_token"])
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/claims/{claim['id']}")
    page = operator.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Claim {claim['id']} is assigned to {colleague.email} now." in page
    assert shown_assignee(operator, claim["id"]) == colleague.email
    assert assign_form(operator, claim["id"])["selected"] == [str(colleague.id)]
    rows = inbox(operator)
    assert rows[claim["id"]] == colleague.email and rows[other["id"]] == "—"
    ((_org, claim_id, assignee, assigned_by),) = stored(provider_app)
    assert (claim_id, assignee, assigned_by) == (claim["id"], colleague.id, me.id)
    viewer, _viewer = signed_in(provider_app, Role.VIEWER)
    assert shown_assignee(viewer, claim["id"]) == colleague.email  # everybody sees it
    viewer_page = viewer.get(f"/claims/{claim['id']}").get_data(as_text=True)
    assert 'id="claim-assign"' not in viewer_page  # but only operators change it


def test_unassigning_leaves_one_row_for_nobody_and_audits_both_without_personal_data(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    claim = open_claims(sandbox)[0]
    operator, me = signed_in(provider_app, Role.OPERATOR)
    colleague = make_provider_user(provider_app, Role.OPERATOR)
    token = assign_form(operator, claim["id"])["csrf_token"]
    assert post_assignee(operator, claim["id"], str(colleague.id), token).status_code == 303
    answer = post_assignee(operator, claim["id"], "", token)
    assert answer.status_code == 303
    page = operator.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Claim {claim['id']} is assigned to nobody now." in page
    assert shown_assignee(operator, claim["id"]) == "Nobody"
    assert inbox(operator)[claim["id"]] == "—"
    ((_org, claim_id, assignee, assigned_by),) = stored(provider_app)
    assert (claim_id, assignee, assigned_by) == (claim["id"], None, me.id)
    entries = assigned_audit(provider_app)
    assert [(e.target_type, e.target_id, e.actor_user_id, e.details) for e in entries] == [
        ("claim", claim["id"], me.id, {"assignee_user_id": colleague.id}),
        ("claim", claim["id"], me.id, {"assignee_user_id": None}),
    ]
    assert {e.outcome for e in entries} == {"success"}
    kept = repr([(e.action, e.target_id, e.details) for e in entries])
    assert "@" not in kept and claim["order_reference"] not in kept


def test_a_viewer_is_refused_and_nothing_is_written(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    claim = open_claims(sandbox)[0]
    viewer, me = signed_in(provider_app, Role.VIEWER)
    answer = post_assignee(viewer, claim["id"], str(me.id), csrf_token(viewer, "/account"))
    assert answer.status_code == 403
    assert stored(provider_app) == [] and assigned_audit(provider_app) == []


@pytest.mark.parametrize("who", ["another organisation's", "disabled", "unknown", "no number"])
def test_an_assignee_who_is_no_active_user_of_the_organisation_is_refused_with_422(
    provider_app: Flask, sandbox: SandboxHandle, who: str
) -> None:
    claim = open_claims(sandbox)[0]
    operator, _me = signed_in(provider_app, Role.OPERATOR)
    stranger = make_provider_user(
        provider_app, Role.OPERATOR, client_id="other-operator", organisation="Andere GmbH"
    )
    colleague = make_provider_user(provider_app, Role.OPERATOR)
    with store_of(provider_app).unit_of_work() as uow:
        found = uow.users.get(colleague.id)
        assert found is not None
        found.disabled = True
        uow.commit()
    form = assign_form(operator, claim["id"])
    assert str(stranger.id) not in form["options"] and str(colleague.id) not in form["options"]
    value = {
        "another organisation's": str(stranger.id),
        "disabled": str(colleague.id),
        "unknown": "999999",
        "no number": "１",  # a full-width digit: a number to `int`, not to the form
    }[who]
    answer = post_assignee(operator, claim["id"], value, form["csrf_token"])
    assert answer.status_code == 422
    page = BeautifulSoup(answer.get_data(as_text=True), "html.parser")
    assert page.find(id="claim-assign-error").get_text(strip=True) == REFUSED
    assert page.find(id="claim-assignee").get_text(strip=True) == "Nobody"
    assert stored(provider_app) == [] and assigned_audit(provider_app) == []


def test_an_assignment_without_the_csrf_token_is_refused_and_nothing_is_written(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    claim = open_claims(sandbox)[0]
    operator, me = signed_in(provider_app, Role.OPERATOR)
    for token in (None, "IjEyMzQ1Ig.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"):
        answer = post_assignee(operator, claim["id"], str(me.id), token)
        assert answer.status_code == 400 and EXPIRED_PAGE in answer.get_data(as_text=True)
    assert stored(provider_app) == [] and assigned_audit(provider_app) == []


def test_an_unknown_claim_is_a_404_and_nothing_is_written(provider_app: Flask) -> None:
    operator, me = signed_in(provider_app, Role.OPERATOR)
    token = csrf_token(operator, "/account")
    answer = post_assignee(operator, "cl_0000000000000000", str(me.id), token)
    assert answer.status_code == 404
    assert stored(provider_app) == [] and assigned_audit(provider_app) == []


def test_racing_assignments_leave_one_row_and_no_server_error(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    claim = open_claims(sandbox)[0]
    racers = [signed_in(provider_app, Role.OPERATOR) for _ in range(6)]
    tokens = [assign_form(client, claim["id"])["csrf_token"] for client, _user in racers]
    barrier = threading.Barrier(len(racers))

    def post(number: int) -> int:
        client, user = racers[number]
        barrier.wait()
        return int(post_assignee(client, claim["id"], str(user.id), tokens[number]).status_code)

    with ThreadPoolExecutor(len(racers)) as pool:
        answers = list(pool.map(post, range(len(racers))))
    assert answers == [303] * len(racers), answers
    ((_org, claim_id, assignee, assigned_by),) = stored(provider_app)
    assert claim_id == claim["id"] and assignee == assigned_by
    assert assignee in {user.id for _client, user in racers}
    assert len(assigned_audit(provider_app)) == len(racers)


# -- the inbox's filter and the CSV --------------------------------------------------------


def test_the_inbox_filters_by_assignee_over_the_whole_view_and_the_csv_follows(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    truth = open_claims(sandbox)
    mine, colleagues = truth[-1], truth[0]  # one beyond the first page when there are 50+
    operator, me = signed_in(provider_app, Role.OPERATOR)
    colleague = make_provider_user(provider_app, Role.OPERATOR)
    token = assign_form(operator, mine["id"])["csrf_token"]
    assert post_assignee(operator, mine["id"], str(me.id), token).status_code == 303
    assert post_assignee(operator, colleagues["id"], str(colleague.id), token).status_code == 303

    assert inbox(operator, "?assignee=me") == {mine["id"]: me.email}
    unassigned = [c["id"] for c in truth if c["id"] not in (mine["id"], colleagues["id"])]
    assert list(inbox(operator, "?assignee=none")) == unassigned[:50]
    assert set(inbox(operator, "?assignee=none").values()) == {"—"}
    page = operator.get("/claims?assignee=none").get_data(as_text=True)
    assert f"{len(unassigned)} claims" in page
    assert ("The first 50 of" in page) == (len(unassigned) > 50)
    assert 'rel="next"' not in page  # one page: the provider's cursor cannot page a filter
    assert operator.get("/claims?assignee=somebody").status_code == 400

    def exported(query: str) -> list[list[str]]:
        answer = operator.get(f"/claims/export.csv?{query}")
        assert answer.status_code == 200
        return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))

    every = exported("view=open")
    assert every[0][-1] == "Assignee (user ID)"
    by_claim = {row[0]: row[-1] for row in every[1:]}
    assert list(by_claim) == [c["id"] for c in truth]
    assert by_claim[mine["id"]] == str(me.id) and by_claim[colleagues["id"]] == str(colleague.id)
    assert {by_claim[claim_id] for claim_id in unassigned} == {""}
    assert "@" not in "".join(by_claim.values())  # ids, never addresses
    assert [row[0] for row in exported("view=open&assignee=me")[1:]] == [mine["id"]]
    assert [row[0] for row in exported("view=open&assignee=none")[1:]] == unassigned


# -- the API -----------------------------------------------------------------------------------


def test_the_api_shows_and_sets_the_assignee(
    provider_app: Flask, provider_token: Callable[..., str], sandbox: SandboxHandle
) -> None:
    claim = open_claims(sandbox)[0]
    client = provider_app.test_client()
    operator = {"Authorization": f"Bearer {provider_token(Role.OPERATOR)}"}
    me = client.get("/api/v1/me", headers=operator).get_json()["id"]
    path = f"/api/v1/claims/{claim['id']}"
    assert client.get(path, headers=operator).get_json()["assignee_user_id"] is None

    answer = client.put(f"{path}/assignee", json={"user_id": me}, headers=operator)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {**claim, "assignee_user_id": me}
    assert client.get(path, headers=operator).get_json()["assignee_user_id"] == me
    listed = client.get("/api/v1/claims?status=open&limit=1000", headers=operator).get_json()
    by_id = {c["id"]: c["assignee_user_id"] for c in listed["data"]}
    assert by_id[claim["id"]] == me and set(by_id.values()) == {me, None}

    stranger = make_provider_user(
        provider_app, Role.OPERATOR, client_id="other-operator", organisation="Andere GmbH"
    )
    refused = client.put(f"{path}/assignee", json={"user_id": stranger.id}, headers=operator)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert (refused.get_json()["code"], refused.get_json()["param"]) == (
        "invalid_request",
        "user_id",
    )
    for body in ({"user_id": "1"}, {"user_id": True}, {}, {"user_id": 1, "note": "x"}):
        bad = client.put(f"{path}/assignee", json=body, headers=operator)
        assert bad.status_code == 400, body
    unknown = client.put(
        "/api/v1/claims/cl_0000000000000000/assignee", json={"user_id": me}, headers=operator
    )
    assert unknown.status_code == 404
    viewer = {"Authorization": f"Bearer {provider_token(Role.VIEWER)}"}
    forbidden = client.put(f"{path}/assignee", json={"user_id": None}, headers=viewer)
    assert forbidden.status_code == 403
    assert [row[2] for row in stored(provider_app)] == [me]

    cleared = client.put(f"{path}/assignee", json={"user_id": None}, headers=operator)
    assert cleared.status_code == 200 and cleared.get_json()["assignee_user_id"] is None
    assert [e.details for e in assigned_audit(provider_app)] == [
        {"assignee_user_id": me},
        {"assignee_user_id": None},
    ]


def test_the_api_refuses_a_session_write_without_the_csrf_header(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    claim = open_claims(sandbox)[0]
    operator, me = signed_in(provider_app, Role.OPERATOR)
    path = f"/api/v1/claims/{claim['id']}/assignee"
    refused = operator.put(path, json={"user_id": me.id})
    assert refused.status_code == 400 and refused.get_json()["code"] == "csrf_failed"
    assert stored(provider_app) == []
    token = csrf_token(operator, "/account")
    allowed = operator.put(path, json={"user_id": me.id}, headers={"X-CSRFToken": token})
    assert allowed.status_code == 200


# -- the store -------------------------------------------------------------------------------


def _organisation_with_users(store: Store, count: int) -> tuple[int, list[int]]:
    with store.unit_of_work() as uow:
        organisation = uow.organisations.get_or_create("Musterhaus GmbH")
        ids = [
            uow.users.add(
                organisation_id=organisation.id,
                email=f"racer-{n}@example.com",
                password_hash="h",
                role="operator",
            ).id
            for n in range(count)
        ]
        uow.commit()
        return organisation.id, ids


def test_racing_transactions_assign_a_new_claim_once_on_each_database(store: Store) -> None:
    organisation, users = _organisation_with_users(store, 8)
    service = ClaimAssignments(store)
    barrier = threading.Barrier(len(users))

    def assign(user_id: int) -> None:
        barrier.wait()
        service.assign(Actor(user_id, organisation), "cl_00000000000000aa", user_id)

    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(assign, users))  # an error in any thread is raised here
    with store.unit_of_work() as uow:
        rows = list(uow.session.scalars(select(ClaimAssigneeRow)))
        audited = uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "claim.assigned")
        )
    assert len(rows) == 1 and rows[0].assignee_user_id in users, rows
    assert rows[0].assigned_by == rows[0].assignee_user_id
    assert audited == len(users)


def test_deleting_a_user_unassigns_their_claims_and_keeps_the_rows(store: Store) -> None:
    organisation, (assignee, assigner) = _organisation_with_users(store, 2)
    service = ClaimAssignments(store)
    service.assign(Actor(assigner, organisation), "cl_00000000000000bb", assignee)
    service.assign(Actor(assignee, organisation), "cl_00000000000000cc", assigner)
    with store.unit_of_work() as uow:
        uow.session.execute(delete(User).where(User.id == assignee))
        uow.commit()
    ids = ["cl_00000000000000bb", "cl_00000000000000cc"]
    assert list(service.of_claims(organisation, ids)) == ["cl_00000000000000cc"]
    with store.unit_of_work() as uow:
        rows = uow.session.scalars(select(ClaimAssigneeRow).order_by(ClaimAssigneeRow.claim_id))
        assert [(r.claim_id, r.assignee_user_id, r.assigned_by) for r in rows] == [
            ("cl_00000000000000bb", None, assigner),
            ("cl_00000000000000cc", assigner, None),
        ]


def test_the_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.sqlite3'}")
    upgrade(engine)
    assert "claim_assignees" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0009")
    assert "claim_assignees" not in inspect(engine).get_table_names()
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("claim_assignees")}
    assert columns == {"organisation_id", "claim_id", "assignee_user_id", "assigned_by",
                       "assigned_at"}  # fmt: skip
    engine.dispose()


# -- served, over two processes ------------------------------------------------------------


_ROWS = """
from sqlalchemy import select
from sarportal.config import Settings
from sarportal.store import Store
from sarportal.store.models import ClaimAssigneeRow
store = Store(Settings.from_env())
with store.unit_of_work() as uow:
    for row in uow.session.scalars(select(ClaimAssigneeRow)):
        print(row.claim_id, row.assignee_user_id)
"""


@pytest.mark.slow
def test_assignments_racing_over_every_process_leave_one_row(tmp_path: Path) -> None:
    with running_portal(tmp_path) as first:
        second = replace(first, url=f"http://127.0.0.1:{_free_port()}", server=None)
        second.start()
        try:
            portals = (first, second)
            bearers = [first.api_token(f"{role}@demo.example") for role in ("operator", "admin")]
            ids = [httpx.get(f"{first.url}/api/v1/me", headers=b).json()["id"] for b in bearers]
            listed = httpx.get(
                f"{first.url}/api/v1/claims", params={"limit": 1}, headers=bearers[0], timeout=30
            ).json()["data"]
            claim_id = listed[0]["id"]
            browsers = [_browser(portal) for portal in portals]

            def by_api(portal: Portal, n: int) -> Callable[[], int]:
                url = f"{portal.url}/api/v1/claims/{claim_id}/assignee"
                body = {"user_id": ids[n % 2]}
                return lambda: (
                    httpx.put(url, json=body, headers=bearers[n % 2], timeout=30).status_code
                )

            def by_form(browser: tuple[httpx.Client, str], n: int) -> Callable[[], int]:
                client, token = browser
                data = {"assignee": str(ids[n % 2]), "csrf_token": token}
                return lambda: client.post(f"/claims/{claim_id}/assignee", data=data).status_code

            racers = [by_api(p, n) for n, p in enumerate(portals * 3)]
            racers += [by_form(b, n) for n, b in enumerate(browsers * 2)]
            barrier = threading.Barrier(len(racers))

            def run(post: Callable[[], int]) -> int:
                barrier.wait()
                return post()

            with ThreadPoolExecutor(len(racers)) as pool:
                answers = list(pool.map(run, racers))
            assert answers == [200] * 6 + [303] * 4, answers
            rows = subprocess.run(
                [sys.executable, "-c", _ROWS], env=first.env, capture_output=True, text=True,
                check=True,
            ).stdout.split("\n")  # fmt: skip
            ((row_claim, row_assignee),) = [line.split() for line in rows if line]
            assert row_claim == claim_id and int(row_assignee) in ids
            shown = httpx.get(
                f"{second.url}/api/v1/claims/{claim_id}", headers=bearers[0], timeout=30
            ).json()
            assert shown["assignee_user_id"] == int(row_assignee)
            for client, _token_value in browsers:
                client.close()
        finally:
            second.stop()


def _browser(portal: Portal) -> tuple[httpx.Client, str]:
    """A browser signed in to `portal` as the demo operator, and its page's CSRF token."""
    client = httpx.Client(base_url=portal.url, timeout=30)
    form = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    token = form.search(client.get("/login").text)
    assert token is not None
    data = {"email": "operator@demo.example", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 303
    found = form.search(client.get("/account").text)
    assert found is not None
    return client, found.group(1)
