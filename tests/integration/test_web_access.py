"""Every route × every role, security headers, CSRF, the API token, admin actions, operations."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import AuditEntry, ProviderCredential
from sarportal.web.core.access import rule_for
from tests.fixtures.portal import PASSWORD, MadeUser, csrf_token, new_client, sign_in

# Every endpoint with its least role (None: public) and a path to call it on. A new route that
# is missing here, or that declares no rule, fails `test_every_endpoint_is_in_the_matrix`.
MATRIX: dict[str, tuple[Role | None, str, str]] = {
    "auth.login": (None, "GET", "/login"),
    "auth.second_factor": (None, "GET", "/login/second-factor"),
    "auth.logout": (None, "POST", "/logout"),
    "auth.accept": (None, "GET", "/invite/unknown-token"),
    "ops.healthz": (None, "GET", "/healthz"),
    "ops.readyz": (None, "GET", "/readyz"),
    "ops.metrics": (None, "GET", "/metrics"),
    "ui.set_language": (None, "POST", "/preferences/language"),
    "pages.index": (Role.VIEWER, "GET", "/"),
    "dashboard.job_status": (Role.VIEWER, "GET", "/dashboard/jobs/unknown"),
    "dashboard.refresh": (Role.VIEWER, "POST", "/dashboard/refresh"),
    "counter.index": (Role.VIEWER, "GET", "/counter"),
    "counter.refresh": (Role.VIEWER, "POST", "/counter/refresh"),
    "counter.export": (Role.VIEWER, "GET", "/counter/export.csv"),
    "account.index": (Role.VIEWER, "GET", "/account"),
    "account.time_zone": (Role.VIEWER, "POST", "/account/time-zone"),
    "account.language": (Role.VIEWER, "POST", "/account/language"),
    "account.end_session": (Role.VIEWER, "POST", "/account/sessions/0/end"),
    "account.password": (Role.VIEWER, "POST", "/account/password"),
    "account.second_factor": (Role.VIEWER, "GET", "/account/second-factor"),
    "account.tokens": (Role.VIEWER, "GET", "/account/tokens"),
    "account.create_api_token": (Role.VIEWER, "POST", "/account/tokens"),
    "account.revoke_api_token": (Role.VIEWER, "POST", "/account/tokens/0/revoke"),
    "api.me": (Role.VIEWER, "GET", "/api/v1/me"),
    "transactions.index": (Role.VIEWER, "GET", "/transactions"),
    "payouts.index": (Role.VIEWER, "GET", "/payouts"),
    "claims.index": (Role.VIEWER, "GET", "/claims"),
    "claims.export": (Role.VIEWER, "GET", "/claims/export.csv"),
    "claims.detail": (Role.VIEWER, "GET", "/claims/cl_0000000000000000"),
    "claims.accept": (Role.OPERATOR, "POST", "/claims/cl_0000000000000000/accept"),
    "claims.contest": (Role.OPERATOR, "POST", "/claims/cl_0000000000000000/contest"),
    "claims.assign": (Role.OPERATOR, "POST", "/claims/cl_0000000000000000/assignee"),
    "reconcile.form": (Role.VIEWER, "GET", "/payouts/reconcile"),
    "reconcile.upload": (Role.VIEWER, "POST", "/payouts/reconcile"),
    "payouts.detail": (Role.VIEWER, "GET", "/payouts/po_0000000000000000"),
    "payouts.export": (Role.VIEWER, "GET", "/payouts/po_0000000000000000/export/csv"),
    "api_payouts.list_payouts": (Role.VIEWER, "GET", "/api/v1/payouts"),
    "api_claims.list_claims": (Role.VIEWER, "GET", "/api/v1/claims"),
    "api_claims.get_claim": (Role.VIEWER, "GET", "/api/v1/claims/cl_0000000000000000"),
    "api_claims.accept": (Role.OPERATOR, "POST", "/api/v1/claims/cl_0000000000000000/acceptance"),
    "api_claims.contest": (
        Role.OPERATOR,
        "POST",
        "/api/v1/claims/cl_0000000000000000/contestation",
    ),
    "api_claims.assign": (Role.OPERATOR, "PUT", "/api/v1/claims/cl_0000000000000000/assignee"),
    "api_payouts.get_payout": (Role.VIEWER, "GET", "/api/v1/payouts/po_0000000000000000"),
    "api_payouts.list_payout_lines": (
        Role.VIEWER,
        "GET",
        "/api/v1/payouts/po_0000000000000000/lines",
    ),
    "api_payouts.export_payout": (
        Role.VIEWER,
        "GET",
        "/api/v1/payouts/po_0000000000000000/export?format=csv",
    ),
    "transactions.export": (Role.VIEWER, "GET", "/transactions/export.csv"),
    "api_transactions.list_transactions": (Role.VIEWER, "GET", "/api/v1/transactions"),
    "api_stats.submit_job": (Role.VIEWER, "POST", "/api/v1/stats/jobs"),
    "api_stats.get_job": (Role.VIEWER, "GET", "/api/v1/stats/jobs/unknown-job"),
    "apidoc.openapi_json": (Role.VIEWER, "GET", "/api/openapi.json"),
    "apidoc.docs": (Role.VIEWER, "GET", "/api/docs"),
    "admin.users": (Role.ADMIN, "GET", "/admin/users"),
    "admin.invite": (Role.ADMIN, "POST", "/admin/users/invite"),
    "admin.change_role": (Role.ADMIN, "POST", "/admin/users/999/role"),
    "admin.set_credentials": (Role.ADMIN, "POST", "/admin/users/999/credentials"),
    "admin.disable": (Role.ADMIN, "POST", "/admin/users/999/disable"),
    "admin.enable": (Role.ADMIN, "POST", "/admin/users/999/enable"),
    "admin.reset_second_factor": (Role.ADMIN, "POST", "/admin/users/999/reset-second-factor"),
    "admin.second_factor_policy": (Role.ADMIN, "POST", "/admin/second-factor-policy"),
    "saved_views.index": (Role.VIEWER, "GET", "/views"),
    "saved_views.new": (Role.VIEWER, "GET", "/views/new?page=transactions"),
    "saved_views.create": (Role.VIEWER, "POST", "/views"),
    "saved_views.open_view": (Role.VIEWER, "GET", "/views/unknown"),
    "saved_views.count": (Role.VIEWER, "GET", "/views/unknown/count"),
    "saved_views.rename": (Role.VIEWER, "POST", "/views/unknown/rename"),
    "saved_views.share": (Role.VIEWER, "POST", "/views/unknown/share"),
    "saved_views.delete": (Role.VIEWER, "POST", "/views/unknown/delete"),
    "saved_views.set_defaults": (Role.ADMIN, "POST", "/views/defaults"),
    "api_views.list_views": (Role.VIEWER, "GET", "/api/v1/views"),
    "api_views.create_view": (Role.VIEWER, "POST", "/api/v1/views"),
    "api_views.get_view": (Role.VIEWER, "GET", "/api/v1/views/unknown"),
    "api_views.update_view": (Role.VIEWER, "PATCH", "/api/v1/views/unknown"),
    "api_views.delete_view": (Role.VIEWER, "DELETE", "/api/v1/views/unknown"),
    "approvals.index": (Role.OPERATOR, "GET", "/approvals"),
    "approvals.approve": (Role.OPERATOR, "POST", "/approvals/unknown/approve"),
    "approvals.reject": (Role.OPERATOR, "POST", "/approvals/unknown/reject"),
    "approvals.withdraw": (Role.OPERATOR, "POST", "/approvals/unknown/withdraw"),
    "approvals.settings": (Role.ADMIN, "GET", "/approvals/settings"),
    "approvals.save_settings": (Role.ADMIN, "POST", "/approvals/settings"),
    "bulk.index": (Role.OPERATOR, "GET", "/bulk"),
    "bulk.plan": (Role.OPERATOR, "POST", "/bulk"),
    "bulk.upload_form": (Role.OPERATOR, "GET", "/bulk/upload"),
    "bulk.upload": (Role.OPERATOR, "POST", "/bulk/upload"),
    "bulk.show": (Role.OPERATOR, "GET", "/bulk/unknown"),
    "bulk.progress": (Role.OPERATOR, "GET", "/bulk/unknown/progress"),
    "bulk.start": (Role.OPERATOR, "POST", "/bulk/unknown/start"),
    "bulk.cancel": (Role.OPERATOR, "POST", "/bulk/unknown/cancel"),
    "bulk.result": (Role.OPERATOR, "GET", "/bulk/unknown/result.csv"),
    "api_approvals.list_approvals": (Role.OPERATOR, "GET", "/api/v1/approvals"),
    "api_approvals.get_approval": (Role.OPERATOR, "GET", "/api/v1/approvals/unknown"),
    "api_approvals.approve": (Role.OPERATOR, "POST", "/api/v1/approvals/unknown/approve"),
    "api_approvals.reject": (Role.OPERATOR, "POST", "/api/v1/approvals/unknown/reject"),
    "api_approvals.withdraw": (Role.OPERATOR, "POST", "/api/v1/approvals/unknown/withdraw"),
    "transaction.detail": (Role.VIEWER, "GET", "/transactions/tx_0"),
    "transaction.reveal": (Role.VIEWER, "POST", "/transactions/tx_0/customer/email"),
    "transaction.related": (Role.VIEWER, "GET", "/transactions/tx_0/related"),
    "transaction.action_form": (Role.OPERATOR, "GET", "/transactions/tx_0/actions/refund"),
    "transaction.act": (Role.OPERATOR, "POST", "/transactions/tx_0/actions/capture"),
    "transaction.api.detail": (Role.VIEWER, "GET", "/api/v1/transactions/tx_0"),
    "transaction.api.refund": (Role.OPERATOR, "POST", "/api/v1/transactions/tx_0/refunds"),
    "transaction.api.capture": (Role.OPERATOR, "POST", "/api/v1/transactions/tx_0/captures"),
    "transaction.api.cancel": (Role.OPERATOR, "POST", "/api/v1/transactions/tx_0/cancellations"),
    "transaction.invoice_operation": (Role.OPERATOR, "POST", "/transactions/tx_0/invoice/pause"),
    "transaction.api.extend": (
        Role.OPERATOR,
        "POST",
        "/api/v1/transactions/tx_0/due-date-extensions",
    ),
    "transaction.api.pause": (Role.OPERATOR, "POST", "/api/v1/transactions/tx_0/dunning-pauses"),
    "transaction.api.resend": (Role.OPERATOR, "POST", "/api/v1/transactions/tx_0/invoice-resends"),
    "transaction.api.direct_payment": (
        Role.OPERATOR,
        "POST",
        "/api/v1/transactions/tx_0/direct-payments",
    ),
    "dunning.forecast": (Role.VIEWER, "GET", "/dashboard/dunning"),
}
OPTIONAL = {"ui.set_language"}  # owned by the look-and-feel part


def test_every_endpoint_is_in_the_matrix_and_declares_a_rule(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    unknown = endpoints - MATRIX.keys()
    assert not unknown, f"add these endpoints to MATRIX: {sorted(unknown)}"
    undeclared = sorted(e for e in endpoints if rule_for(app, e) is None)
    assert not undeclared, f"these views declare no access rule: {undeclared}"
    for endpoint, (role, _, _) in MATRIX.items():
        if endpoint in OPTIONAL and endpoint not in app.view_functions:
            continue
        rule = rule_for(app, endpoint)
        assert rule is not None and rule.role == role, endpoint


@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_route_role_matrix(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser], role: Role | None
) -> None:
    if role is not None:
        login_as(role)
    token = csrf_token(client, "/login" if role is None else "/account")
    for endpoint, (required, method, path) in MATRIX.items():
        if endpoint not in app.view_functions or endpoint == "auth.logout":
            continue
        response = client.open(path, method=method, data={"csrf_token": token})
        status = response.status_code
        if required is None:
            assert status not in (401, 403), (endpoint, status)
        elif role is None:
            # The API answers 401; pages (the API's docs page too) send people to sign in.
            expected = 401 if path.startswith("/api/") and path != "/api/docs" else 302
            assert status == expected, (endpoint, status)
        elif role.allows(required):
            assert status not in (302, 401, 403), (endpoint, status)
        else:
            assert status == 403, (endpoint, status)
        assert status < 500, (endpoint, status)


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for path in ("/login", "/healthz", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]
        assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_authenticated_pages_are_not_stored(
    client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    login_as(Role.ADMIN)
    for path in ("/", "/account", "/account/tokens", "/admin/users", "/api/v1/me"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_no_hsts_over_plain_http(app: Flask) -> None:
    response = app.test_client().get("/healthz", base_url="http://localhost")
    assert "Strict-Transport-Security" not in response.headers


def test_unknown_route_is_a_404_page_with_a_support_id(client: FlaskClient) -> None:
    response = client.get("/does/not/exist")
    assert response.status_code == 404
    assert re.search(r"portal-support-id\">[0-9a-f]{12}<", response.get_data(as_text=True))


def test_api_errors_are_problem_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "unauthorized" and len(body["support_id"]) == 12
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"


def test_api_token_authenticates_without_csrf(
    app: Flask, make_user: Callable[..., MadeUser], store: Store
) -> None:
    user = make_user(Role.OPERATOR, organisation="Beispiel AG")
    with store.unit_of_work() as uow:
        raw, _ = uow.tokens.create(user.id, None)
        uow.commit()
    client = app.test_client()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == user.email and body["role"] == "operator"
    assert body["organisation"]["name"] == "Beispiel AG"
    assert body["authenticated_by"] == "token"
    # a token is a credential for the API only: with it, pages and forms are refused
    for method, path in (("GET", "/transactions"), ("GET", "/account"), ("POST", "/logout"),
                         ("POST", "/account/password")):  # fmt: skip
        refused = client.open(path, method=method, headers={"Authorization": f"Bearer {raw}"})
        assert refused.status_code == 401, (method, path)
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer sarp_wrong"})
    assert bad.status_code == 401


def test_revoked_token_is_refused(
    app: Flask, make_user: Callable[..., MadeUser], store: Store
) -> None:
    user = make_user(Role.VIEWER)
    with store.unit_of_work() as uow:
        raw, row = uow.tokens.create(user.id, None)
        uow.flush()
        assert uow.tokens.revoke(row.id, user.id)
        uow.commit()
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_session_api_write_needs_csrf_header(
    client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    login_as(Role.VIEWER)
    refused = client.post("/logout")
    assert refused.status_code == 400
    assert "The form has expired" in refused.get_data(as_text=True)
    token = csrf_token(client, "/")
    allowed = client.post("/logout", headers={"X-CSRFToken": token})
    assert allowed.status_code == 303


def test_admin_sets_write_only_credentials_and_audit(
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    store: Store,
) -> None:
    admin = login_as(Role.ADMIN)
    viewer = make_user(Role.VIEWER)
    token = csrf_token(client, "/admin/users")
    response = client.post(
        f"/admin/users/{viewer.id}/credentials",
        data={"client_id": "demo-viewer", "client_secret": "s3cret-value", "csrf_token": token},
    )
    assert response.status_code == 303
    assert store.provider_credentials_for(viewer.id) == ("demo-viewer", "s3cret-value")
    assert "s3cret-value" not in client.get("/admin/users").get_data(as_text=True)
    with store.unit_of_work() as uow:
        raw = uow.session.scalar(select(ProviderCredential.secret_encrypted))
        entry = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.credentials_set")
        ).one()
    assert raw is not None and "s3cret" not in raw
    assert (entry.actor_user_id, entry.target_id) == (admin.id, str(viewer.id))


def test_admin_changes_role_and_disables_within_own_organisation_only(
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    app: Flask,
) -> None:
    login_as(Role.ADMIN)
    colleague = make_user(Role.VIEWER)
    stranger = make_user(Role.VIEWER, organisation="Andere GmbH")
    token = csrf_token(client, "/admin/users")
    assert (
        client.post(
            f"/admin/users/{colleague.id}/role", data={"role": "operator", "csrf_token": token}
        ).status_code
        == 303
    )
    foreign = client.post(f"/admin/users/{stranger.id}/disable", data={"csrf_token": token})
    assert foreign.status_code == 404
    assert "This user does not exist" in foreign.get_data(as_text=True)
    colleague_client = new_client(app)
    assert sign_in(colleague_client, colleague.email) == 303
    assert colleague_client.get("/api/v1/me").get_json()["role"] == "operator"
    assert (
        client.post(f"/admin/users/{colleague.id}/disable", data={"csrf_token": token}).status_code
        == 303
    )
    assert colleague_client.get("/").status_code == 302
    assert sign_in(new_client(app), stranger.email) == 303


def test_invitation_link_works_once(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    login_as(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    page = client.post(
        "/admin/users/invite",
        data={"email": "neu@example.com", "role": "operator", "csrf_token": token},
    ).get_data(as_text=True)
    link = re.search(r'value="https?://localhost(/invite/[^"]+)"', page)
    assert link
    invitee = new_client(app)
    form_token = csrf_token(invitee, link.group(1))
    new_password = "Frische-Bananen-9-Kiste"
    accepted = invitee.post(
        link.group(1),
        data={"password": new_password, "confirm": new_password, "csrf_token": form_token},
    )
    assert accepted.status_code == 303
    assert sign_in(invitee, "neu@example.com", new_password) == 303
    assert invitee.get("/api/v1/me").get_json()["role"] == "operator"
    assert new_client(app).get(link.group(1)).status_code == 404


def test_required_second_factor_forces_enrolment(
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    app: Flask,
    make_user: Callable[..., MadeUser],
) -> None:
    login_as(Role.ADMIN)
    token = csrf_token(client, "/admin/users")
    client.post("/admin/second-factor-policy", data={"operator": "y", "csrf_token": token})
    operator = make_user(Role.OPERATOR)
    other = new_client(app)
    assert sign_in(other, operator.email) == 303
    response = other.get("/")
    assert response.status_code == 302 and "/account/second-factor" in response.headers["Location"]
    page = other.get("/account/second-factor").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    assert client.get("/").status_code == 200  # admins are not required


def test_operations_endpoints(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "jobs": "ok"}
    client.get("/login")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert (
        'sarportal_http_requests_total{endpoint="auth.login",method="GET",status="200"}' in metrics
    )


def test_readyz_fails_when_a_check_fails(app: Flask, client: FlaskClient) -> None:
    from sarportal.web.core.ops import add_readiness_check

    def broken() -> None:
        raise ConnectionError("down")

    add_readiness_check(app, "provider", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["provider"] == "failing"


def test_wrong_password_on_the_way_to_a_page_keeps_the_target(
    client: FlaskClient, make_user: Callable[..., MadeUser]
) -> None:
    user = make_user(Role.VIEWER)
    redirect = client.get("/account")
    assert redirect.status_code == 302 and "next=" in redirect.headers["Location"]
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token, "next": "/account"},
    )
    assert response.headers["Location"].endswith("/account")
    evil = client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example",
        },
    )
    assert "evil" not in evil.headers.get("Location", "")


def test_language_choice_is_kept_on_the_account(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store
) -> None:
    user = login_as(Role.VIEWER)
    token = csrf_token(client, "/")
    response = client.post("/preferences/language", data={"lang": "de", "csrf_token": token})
    assert response.status_code == 303
    with store.unit_of_work() as uow:
        found = uow.users.get(user.id)
        assert found is not None and found.locale == "de"
    assert 'lang="de"' in client.get("/").get_data(as_text=True)
