"""What must hold across several server processes and restarts, against `sarportal serve`.

Each test talks HTTP to real gunicorn processes on loopback (SQLite, no Redis: the default
deployment), with a fresh connection per request, as separate browsers would.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from sarportal.auth import totp
from tests.fixtures.served import PASSWORD, Portal, _free_port, admin_code, running_portal

pytestmark = pytest.mark.slow

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def portals(tmp_path: Path) -> Iterator[tuple[Portal, Portal]]:
    """Two `sarportal serve` processes on one database, as behind a load balancer."""
    with running_portal(tmp_path) as first:
        second = replace(first, url=f"http://127.0.0.1:{_free_port()}", server=None)
        second.start()
        try:
            yield first, second
        finally:
            second.stop()


ADMIN = "admin@demo.example"


def _csrf(browser: httpx.Client, path: str) -> str:
    page = browser.get(path)
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def sign_in(portal: Portal, email: str, password: str) -> httpx.Response:
    """A new browser (a fresh connection and no cookies) signs in; the form's answer."""
    with httpx.Client(base_url=portal.url, timeout=30) as browser:
        data = {"email": email, "password": password, "csrf_token": _csrf(browser, "/login")}
        return browser.post("/login", data=data)


def _at_second_factor(portal: Portal) -> Callable[[str], int]:
    """A new browser past the demo admin's password, at the second-factor step: a function
    that posts a code there and answers the status."""
    browser = httpx.Client(base_url=portal.url, timeout=30)
    data = {"email": ADMIN, "password": PASSWORD, "csrf_token": _csrf(browser, "/login")}
    answer = browser.post("/login", data=data)
    assert answer.headers.get("location", "").endswith("/login/second-factor"), answer
    token = _csrf(browser, "/login/second-factor")

    def post(code: str) -> int:
        try:
            data = {"code": code, "csrf_token": token}
            return browser.post("/login/second-factor", data=data).status_code
        finally:
            browser.close()

    return post


def _at_once(posts: list[Callable[[], int]]) -> list[int]:
    """Run the posts at the same moment, each on its own thread; their statuses."""
    barrier = threading.Barrier(len(posts))

    def run(post: Callable[[], int]) -> int:
        barrier.wait()
        return post()

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(run, posts))


def _give_recovery_codes(portal: Portal, codes: list[str]) -> None:
    """Give the demo admin these recovery codes (as enrolment would), in the portal's store."""
    script = (
        "import sys\n"
        "from sarportal.auth import totp\n"
        "from sarportal.config import Settings\n"
        "from sarportal.store import Store\n"
        "store = Store(Settings.from_env())\n"
        "with store.unit_of_work() as uow:\n"
        "    user = uow.users.by_email(sys.argv[1])\n"
        "    hashes = [totp.recovery_code_hash(code) for code in sys.argv[2:]]\n"
        "    uow.recovery_codes.replace(user.id, hashes)\n"
        "    uow.commit()\n"
    )
    command = [sys.executable, "-c", script, ADMIN, *codes]
    subprocess.run(command, env=portal.env, check=True, capture_output=True)


def test_a_lock_holds_in_every_process_and_after_a_restart(portals: tuple[Portal, Portal]) -> None:
    first, second = portals
    email = "operator@demo.example"
    answers = [sign_in((first, second)[n % 2], email, "wrong-password-1").status_code
               for n in range(12)]  # fmt: skip
    assert answers[:9] == [401] * 9 and answers[9:] == [429] * 3, answers
    right = [sign_in(portal, email, PASSWORD).status_code for portal in (first, second) * 3]
    assert right == [429] * 6, right
    first.restart()
    second.restart()
    assert sign_in(first, email, PASSWORD).status_code == 429
    assert sign_in(second, email, PASSWORD).status_code == 429


def test_the_address_budget_is_counted_once_over_every_process(
    portals: tuple[Portal, Portal],
) -> None:
    first, second = portals
    answers = [
        sign_in((first, second)[n % 2], f"nobody-{n}@example.com", "wrong-password-1").status_code
        for n in range(52)
    ]
    assert answers[:50] == [401] * 50 and answers[50:] == [429, 429], answers
    assert sign_in(first, "viewer@demo.example", PASSWORD).status_code == 429


def test_one_totp_code_signs_in_one_of_six_racing_sessions(
    portals: tuple[Portal, Portal],
) -> None:
    sessions = [_at_second_factor(portal) for portal in portals * 3]
    code = admin_code()
    answers = _at_once([lambda post=post: post(code) for post in sessions])
    assert sorted(answers) == [303] + [401] * 5, answers


def test_each_recovery_code_is_used_once_however_the_posts_race(
    portals: tuple[Portal, Portal],
) -> None:
    first, second, third = totp.new_recovery_codes()[:3]
    _give_recovery_codes(portals[0], [first, second, third])
    sessions = [_at_second_factor(portal) for portal in portals * 3]
    answers = _at_once([lambda post=post: post(first) for post in sessions])
    assert sorted(answers) == [303] + [401] * 5, answers
    pair = [_at_second_factor(portal) for portal in portals]
    both = _at_once([lambda: pair[0](second), lambda: pair[1](third)])
    assert both == [303, 303], both
    later = [_at_second_factor(portals[0])(code) for code in (first, second, third)]
    assert later == [401, 401, 401], later


def _invitation(portal: Portal, email: str) -> str:
    """A new invitation of the demo admin's organisation, made in the portal's store; its
    raw token (what the link carries)."""
    script = (
        "import sys\n"
        "from datetime import timedelta\n"
        "from sarportal.config import Settings\n"
        "from sarportal.store import Store\n"
        "store = Store(Settings.from_env())\n"
        "with store.unit_of_work() as uow:\n"
        "    admin = uow.users.by_email(sys.argv[1])\n"
        "    token, _row = uow.invitations.create(\n"
        "        organisation_id=admin.organisation_id, email=sys.argv[2], role='operator',\n"
        "        invited_by=admin.id, expires_at=store.clock() + timedelta(hours=1))\n"
        "    uow.commit()\n"
        "print(token)\n"
    )
    command = [sys.executable, "-c", script, ADMIN, email]
    done = subprocess.run(command, env=portal.env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _at_invitation(portal: Portal, token: str, password: str) -> Callable[[], int]:
    """A new browser on the invitation's page: a function that submits the chosen password
    there and answers the status (and, for a refusal, checks that the page says why)."""
    browser = httpx.Client(base_url=portal.url, timeout=30)
    form = {
        "password": password,
        "confirm": password,
        "csrf_token": _csrf(browser, f"/invite/{token}"),
    }

    def post() -> int:
        try:
            answer = browser.post(f"/invite/{token}", data=form)
            if answer.status_code == 400:
                assert "This invitation link is invalid, used or expired." in answer.text
            return answer.status_code
        finally:
            browser.close()

    return post


def test_one_invitation_accepted_four_times_at_once_makes_one_account(
    portals: tuple[Portal, Portal],
) -> None:
    token = _invitation(portals[0], "racer@demo.example")
    password = "Wettlauf-Gewinner-42-Ziel"
    posts = [_at_invitation(portal, token, password) for portal in portals * 2]
    answers = _at_once(posts)
    assert sorted(answers) == [303, 400, 400, 400], answers
    assert sign_in(portals[1], "racer@demo.example", password).status_code == 303
    assert httpx.get(f"{portals[0].url}/invite/{token}", timeout=30).status_code == 404


def test_no_log_line_holds_a_secret_of_a_link_a_password_or_a_token(tmp_path: Path) -> None:
    with running_portal(tmp_path) as portal:
        token = _invitation(portal, "logged@demo.example")
        password = "Geheimes-Passwort-77-Log"
        assert _at_invitation(portal, token, password)() == 303
        assert sign_in(portal, "logged@demo.example", password).status_code == 303
        assert httpx.get(f"{portal.url}/invite/{token}x", timeout=30).status_code == 404
        assert (
            httpx.get(f"{portal.url}/nowhere/{token}?next={token}", timeout=30).status_code == 404
        )
    logs = {path.name: path.read_text() for path in (tmp_path / "logs").iterdir()}
    logs["output"] = portal.log.read_text()
    access = logs["access.log"]
    assert '"GET /invite/<token>" 200' in access and '"POST /invite/<token>" 303' in access, access
    assert '"GET /invite/<token>" 404' in access and '"GET /nowhere/…" 404' in access, access
    for name, text in logs.items():
        for secret in (token, password):
            assert secret not in text, f"{name} holds a secret"


def test_a_rate_limit_is_one_budget_over_every_process_and_a_restart(tmp_path: Path) -> None:
    limit = {"SARPORTAL_RATE_LIMIT_WRITES": "5 per minute"}
    with running_portal(tmp_path, env_extra=limit) as first:
        second = replace(first, url=f"http://127.0.0.1:{_free_port()}", server=None)
        second.start()
        try:
            command = [sys.executable, "-m", "sarportal", "tokens", "create", "--email",
                       "viewer@demo.example"]  # fmt: skip
            made = subprocess.run(command, env=first.env, capture_output=True, text=True)
            assert made.returncode == 0, made.stderr
            bearer = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
            body = {"filters": {"currency": ["EUR"]}}

            def submit(portal: Portal) -> int:
                url = f"{portal.url}/api/v1/stats/jobs"
                return httpx.post(url, json=body, headers=bearer, timeout=30).status_code

            answers = [submit((first, second)[n % 2]) for n in range(6)]
            assert answers == [202] * 5 + [429], answers
            first.restart()
            assert submit(first) == 429 and submit(second) == 429
        finally:
            second.stop()


def test_saved_views_racing_over_every_process_are_made_and_deleted_once(
    portals: tuple[Portal, Portal],
) -> None:
    bearer = portals[0].api_token("viewer@demo.example")

    def create(portal: Portal, name: str) -> Callable[[], int]:
        body = {"name": name, "page": "transactions", "query": "status=captured"}
        url = f"{portal.url}/api/v1/views"
        return lambda: httpx.post(url, json=body, headers=bearer, timeout=30).status_code

    answers = _at_once([create(portal, "Racing") for portal in portals * 3])
    assert sorted(answers) == [201] + [409] * 5, answers
    listed = httpx.get(f"{portals[1].url}/api/v1/views", headers=bearer, timeout=30).json()
    (view,) = listed["data"]

    other = httpx.post(
        f"{portals[0].url}/api/v1/views",
        json={"name": "Other", "page": "transactions"},
        headers=bearer,
        timeout=30,
    ).json()

    def rename(portal: Portal, key: str) -> Callable[[], int]:
        url = f"{portal.url}/api/v1/views/{key}"
        return lambda: (
            httpx.patch(url, json={"name": "Same name"}, headers=bearer, timeout=30).status_code
        )

    both = _at_once([rename(portals[0], view["id"]), rename(portals[1], other["id"])])
    assert sorted(both) == [200, 409], both

    portals[0].restart()

    def delete(portal: Portal) -> Callable[[], int]:
        url = f"{portal.url}/api/v1/views/{view['id']}"
        return lambda: httpx.delete(url, headers=bearer, timeout=30).status_code

    deletes = _at_once([delete(portal) for portal in portals * 3])
    assert sorted(deletes) == [204] + [404] * 5, deletes
    left = httpx.get(f"{portals[0].url}/api/v1/views", headers=bearer, timeout=30).json()
    assert [v["id"] for v in left["data"]] == [other["id"]]


def _second_operator(portal: Portal, email: str) -> None:
    command = [
        sys.executable, "-m", "sarportal", "users", "create", "--email", email, "--role",
        "operator", "--organisation", "Musterhaus GmbH", "--provider-client-id",
        "demo-operator", "--password-stdin",
    ]  # fmt: skip
    made = subprocess.run(
        command,
        env=portal.env,
        input=f"{PASSWORD}\ndemo-operator-secret\n",
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stdout + made.stderr


def test_two_approvers_racing_over_every_process_send_a_refund_once(
    portals: tuple[Portal, Portal],
) -> None:
    first, second = portals
    first.approval_thresholds({"EUR": 100})
    _second_operator(first, "approver@demo.example")
    asker = first.api_token("operator@demo.example")
    approvers = [first.api_token(ADMIN), first.api_token("approver@demo.example")]
    listed = httpx.get(
        f"{first.url}/api/v1/transactions",
        params={"status": "captured", "currency": "EUR", "limit": 1},
        headers=asker,
        timeout=30,
    ).json()
    tx = listed["data"][0]
    asked = httpx.post(
        f"{first.url}/api/v1/transactions/{tx['id']}/refunds",
        json={"amount": 150, "reason": "Goodwill"},
        headers=asker,
        timeout=30,
    )
    assert asked.status_code == 202, asked.text
    key = asked.json()["id"]

    def approve(portal: Portal, bearer: dict[str, str]) -> Callable[[], int]:
        url = f"{portal.url}/api/v1/approvals/{key}/approve"
        return lambda: httpx.post(url, headers=bearer, timeout=30).status_code

    racers = [approve(portal, bearer) for portal in portals for bearer in approvers] * 2
    answers = _at_once(racers)
    assert sorted(answers) == [200] + [409] * 7, answers
    second.restart()
    request = httpx.get(f"{second.url}/api/v1/approvals/{key}", headers=asker, timeout=30).json()
    assert (request["state"], request["outcome"]) == ("approved", "succeeded")
    after = httpx.get(f"{second.url}/api/v1/transactions/{tx['id']}", headers=asker, timeout=30)
    refunds = [e for e in after.json()["events"] if e["type"] == "refund"]
    assert after.json()["refunded_amount"] == tx["refunded_amount"] + 150
    assert len(refunds) == len([e for e in refunds if e["amount"] == 150]) >= 1


def test_a_bulk_job_resumes_after_a_restart_and_applies_each_row_once(tmp_path: Path) -> None:
    lease = {"SARPORTAL_JOBS_BULK_LEASE": "2"}
    with running_portal(tmp_path, sandbox_flags=("--rate-limit", "8"), env_extra=lease) as portal:
        bearer = portal.api_token("operator@demo.example")
        english = {"Accept-Language": "en"}
        with httpx.Client(base_url=portal.url, timeout=60, headers=english) as browser:
            data = {
                "email": "operator@demo.example",
                "password": PASSWORD,
                "csrf_token": _csrf(browser, "/login"),
            }
            assert browser.post("/login", data=data).status_code == 303
            token = _csrf(browser, "/account")
            planned = browser.post(
                "/bulk",
                data={
                    "csrf_token": token,
                    "kind": "capture",
                    "f.status": "authorized",
                },
            )
            assert planned.status_code == 303, planned.text[:1000]
            job = planned.headers["location"]
            review = browser.get(job).text
            started = browser.post(f"{job}/start", data={"csrf_token": token})
            assert started.status_code == 303
            time.sleep(1.0)  # some rows sent, most not yet
            assert "Running" in browser.get(f"{job}/progress").text  # stopped mid-job
            portal.restart()
            deadline = time.monotonic() + 120
            while "Finished." not in (page := browser.get(job).text):
                assert time.monotonic() < deadline, page[:2000]
                time.sleep(0.5)
        ids = re.findall(r'href="/transactions/(tx_[0-9a-f]{16})"', page)
        assert len(ids) > 20 and len(ids) == len(set(ids)), len(ids)
        outcomes = re.findall(r'<tr id="row-\d+">(?:.*?<td[^>]*>){4}([^<]*)', page, flags=re.S)
        assert outcomes == ["Done"] * len(ids), set(outcomes)
        for tx_id in ids:
            found = httpx.get(
                f"{portal.url}/api/v1/transactions/{tx_id}", headers=bearer, timeout=30
            ).json()
            captures = [e for e in found["events"] if e["type"] == "capture"]
            assert len(captures) == 1, (tx_id, captures)
            assert found["captured_amount"] == found["amount"]
        assert "Capture the full capturable amount" in review


def test_a_claim_answered_from_every_process_at_once_is_answered_once(tmp_path: Path) -> None:
    # enough transactions for open claims (about one in 60 claims is open at any time)
    flags = ("--transactions", "160000")
    with running_portal(tmp_path, sandbox_flags=flags) as first:
        second = replace(first, url=f"http://127.0.0.1:{_free_port()}", server=None)
        second.start()
        try:
            portals = (first, second)
            bearer = first.api_token("operator@demo.example")
            listed = httpx.get(
                f"{first.url}/api/v1/claims",
                params={"status": "open", "limit": 2},
                headers=bearer,
                timeout=30,
            ).json()["data"]
            assert len(listed) == 2, "the sandbox has too few open claims"
            same_key, own_keys = listed

            def accept(portal: Portal, claim: dict[str, str], key: str) -> Callable[[], int]:
                url = f"{portal.url}/api/v1/claims/{claim['id']}/acceptance"
                headers = {**bearer, "Idempotency-Key": key}
                return lambda: httpx.post(url, json={}, headers=headers, timeout=30).status_code

            # one intent sent six times over both processes: one effect, the rest replays or
            # "still being processed"
            answers = _at_once([accept(p, same_key, "one-intent") for p in portals * 3])
            assert 201 in answers and set(answers) <= {201, 409}, answers
            # six intents at once: one is carried out, the others are refused by the provider
            answers = _at_once(
                [accept(p, own_keys, f"intent-{n}") for n, p in enumerate(portals * 3)]
            )
            assert sorted(answers) == [201] + [409] * 5, answers
            second.restart()
            for claim in listed:
                after = httpx.get(
                    f"{second.url}/api/v1/claims/{claim['id']}", headers=bearer, timeout=30
                ).json()
                assert after["status"] == "accepted" and after["deducted_in_payout"]
        finally:
            second.stop()


def test_an_invoice_paid_directly_from_every_process_at_once_is_deducted_once(
    tmp_path: Path,
) -> None:
    with running_portal(tmp_path) as first:
        second = replace(first, url=f"http://127.0.0.1:{_free_port()}", server=None)
        second.start()
        try:
            portals = (first, second)
            bearer = first.api_token("operator@demo.example")
            listed = httpx.get(
                f"{first.url}/api/v1/transactions",
                params={"settlement_status": "overdue", "status": "captured", "limit": 2},
                headers=bearer,
                timeout=30,
            ).json()["data"]
            assert len(listed) == 2, "the sandbox has too few overdue invoices"
            detail = httpx.get(
                f"{first.url}/api/v1/transactions/{listed[0]['id']}", headers=bearer, timeout=30
            ).json()
            body = {"amount": detail["invoice"]["open_amount"], "paid_on": detail["due_date"]}

            def report(portal: Portal, tx_id: str, key: str) -> Callable[[], int]:
                url = f"{portal.url}/api/v1/transactions/{tx_id}/direct-payments"
                headers = {**bearer, "Idempotency-Key": key}
                return lambda: httpx.post(url, json=body, headers=headers, timeout=30).status_code

            # six reports of the whole open amount, each its own intent: one is taken, the
            # others find nothing open any more
            answers = _at_once(
                [report(p, listed[0]["id"], f"report-{n}") for n, p in enumerate(portals * 3)]
            )
            assert sorted(answers) == [201] + [409] * 5, answers
            # one intent (a client's retries) six times over both processes: one effect
            other = listed[1]["id"]
            extension = httpx.get(
                f"{first.url}/api/v1/transactions/{other}", headers=bearer, timeout=30
            ).json()["invoice"]["extension_options"][0]
            ask = {"working_days": extension["working_days"], "fee_amount": extension["fee_amount"]}

            def extend(portal: Portal) -> Callable[[], int]:
                url = f"{portal.url}/api/v1/transactions/{other}/due-date-extensions"
                headers = {**bearer, "Idempotency-Key": "one-extension"}
                return lambda: httpx.post(url, json=ask, headers=headers, timeout=30).status_code

            answers = _at_once([extend(p) for p in portals * 3])
            assert 201 in answers and set(answers) <= {201, 409}, answers
            second.restart()
            paid = httpx.get(
                f"{second.url}/api/v1/transactions/{listed[0]['id']}", headers=bearer, timeout=30
            ).json()
            assert paid["settlement_status"] == "paid"
            assert len(paid["invoice"]["direct_payments"]) == 1
            extended = httpx.get(
                f"{second.url}/api/v1/transactions/{other}", headers=bearer, timeout=30
            ).json()
            assert extended["invoice"]["extension"]["fee_amount"] == extension["fee_amount"]
            assert extended["due_date"] == extension["due_date"]
        finally:
            second.stop()
