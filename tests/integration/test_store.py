"""The store on SQLite and PostgreSQL: rollback, append-only audit, encryption, key rotation,
migrations, one-time secrets and view names under racing transactions."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from sarportal.auth.demo_users import ensure_demo_users
from sarportal.config import Settings
from sarportal.domain.actions import ActionKind, Amounts
from sarportal.domain.approvals import ApprovalRequest, State
from sarportal.domain.roles import Role
from sarportal.domain.saved_views import Viewer, ViewError, ViewPage
from sarportal.saved_views import SavedViewBook
from sarportal.store import Store
from sarportal.store.crypto import SecretDecryptionError
from sarportal.store.models import Base, DefaultViewRow


@pytest.fixture
def bare_store(settings: Settings) -> Store:
    store = Store(settings)
    yield store  # type: ignore[misc]
    store.dispose()


def _org_and_user(store: Store) -> int:
    with store.unit_of_work() as uow:
        org = uow.organisations.get_or_create("Musterhaus GmbH")
        user = uow.users.add(
            organisation_id=org.id, email="a@example.com", password_hash="h", role="viewer"
        )
        uow.commit()
        return user.id


def test_unit_of_work_rolls_back_without_commit(bare_store: Store) -> None:
    with bare_store.unit_of_work() as uow:
        uow.organisations.get_or_create("Never kept")
    with bare_store.unit_of_work() as uow:
        count = uow.session.execute(text("SELECT count(*) FROM organisations")).scalar_one()
    assert count == 0


def test_unit_of_work_rolls_back_on_error(bare_store: Store) -> None:
    with pytest.raises(RuntimeError), bare_store.unit_of_work() as uow:
        uow.organisations.get_or_create("Half done")
        uow.flush()
        raise RuntimeError("boom")
    with bare_store.unit_of_work() as uow:
        assert uow.session.execute(text("SELECT count(*) FROM organisations")).scalar_one() == 0


def test_email_is_unique_regardless_of_case(bare_store: Store) -> None:
    _org_and_user(bare_store)
    with pytest.raises(DBAPIError), bare_store.unit_of_work() as uow:  # IntegrityError
        uow.users.add(organisation_id=1, email="A@Example.com", password_hash="h", role="viewer")
        uow.commit()


def test_audit_log_refuses_update_and_delete(bare_store: Store) -> None:
    with bare_store.unit_of_work() as uow:
        uow.audit.record("test.event", details={"amount": 100})
        uow.commit()
    for statement in ("UPDATE audit_log SET outcome = 'changed'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), bare_store.unit_of_work() as uow:
            uow.session.execute(text(statement))
            uow.commit()
    with bare_store.unit_of_work() as uow:
        assert [e.outcome for e in uow.audit.recent()] == ["success"]
    assert not hasattr(type(uow.audit), "delete") and not hasattr(type(uow.audit), "update")


def test_provider_secret_is_encrypted_at_rest(bare_store: Store) -> None:
    user_id = _org_and_user(bare_store)
    with bare_store.unit_of_work() as uow:
        uow.credentials.set(user_id, "demo-viewer", "very-secret-value")
        uow.commit()
    with bare_store.unit_of_work() as uow:
        raw = uow.session.execute(
            text("SELECT secret_encrypted FROM provider_credentials")
        ).scalar_one()
    assert "very-secret-value" not in raw and raw.startswith("gAAAA")
    assert bare_store.provider_credentials_for(user_id) == ("demo-viewer", "very-secret-value")
    assert bare_store.provider_credentials_for(user_id + 1) is None


def test_rotated_secrets_decrypt_after_the_old_key_is_dropped(settings: Settings) -> None:
    old = Store(settings)
    user_id = _org_and_user(old)
    with old.unit_of_work() as uow:
        uow.credentials.set(user_id, "client", "secret-before-rotation")
        user = uow.users.get(user_id)
        assert user is not None
        uow.users.set_totp(user, "JBSWY3DPEHPK3PXP")
        uow.commit()
    old.dispose()
    new_key = Fernet.generate_key().decode()
    both = Store(
        dataclasses.replace(settings, encryption_keys=(new_key, *settings.encryption_keys))
    )
    with both.unit_of_work() as uow:
        assert uow.credentials.rotate_secrets() + uow.users.rotate_secrets() == 2
        uow.commit()
    both.dispose()
    only_new = Store(dataclasses.replace(settings, encryption_keys=(new_key,)))
    assert only_new.provider_credentials_for(user_id) == ("client", "secret-before-rotation")
    with only_new.unit_of_work() as uow:
        user = uow.users.get(user_id)
        assert user is not None and uow.users.totp_secret(user) == "JBSWY3DPEHPK3PXP"
    only_new.dispose()
    only_old = Store(settings)
    with pytest.raises(SecretDecryptionError):
        only_old.provider_credentials_for(user_id)
    only_old.dispose()


def test_migrations_match_the_models(bare_store: Store) -> None:
    with bare_store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [
            d for d in compare_metadata(context, Base.metadata) if "lower(email)" not in str(d)
        ]
    assert differences == []


def test_demo_users_each_role_with_provider_clients(bare_store: Store) -> None:
    logins = ensure_demo_users(bare_store, {})
    again = ensure_demo_users(bare_store, {})
    assert [(login.email, login.role) for login in again] == [
        ("viewer@demo.example", Role.VIEWER),
        ("operator@demo.example", Role.OPERATOR),
        ("admin@demo.example", Role.ADMIN),
    ]
    assert logins[0].password != again[0].password
    with bare_store.unit_of_work() as uow:
        ids = {login.email: uow.users.by_email(login.email).id for login in again}  # type: ignore[union-attr]
    assert bare_store.provider_credentials_for(ids["viewer@demo.example"]) == (
        "demo-viewer",
        "demo-viewer-secret",
    )
    assert bare_store.provider_credentials_for(ids["admin@demo.example"])[0] == "demo-operator"  # type: ignore[index]


@pytest.mark.parametrize("secret", ["totp_step", "recovery_code", "invitation"])
def test_a_one_time_secret_is_claimed_once_by_racing_transactions(
    bare_store: Store, secret: str
) -> None:
    user_id = _org_and_user(bare_store)
    with bare_store.unit_of_work() as uow:
        uow.recovery_codes.replace(user_id, ["s1$salt$digest"])
        user = uow.users.get(user_id)
        assert user is not None
        _raw, invitation = uow.invitations.create(
            organisation_id=user.organisation_id,
            email="invited@example.com",
            role="viewer",
            invited_by=user_id,
            expires_at=bare_store.clock() + timedelta(hours=1),
        )
        uow.commit()
        code_id = uow.recovery_codes.unused(user_id)[0].id
    racers = 6
    barrier = threading.Barrier(racers)

    def claim() -> bool:
        with bare_store.unit_of_work() as uow:
            barrier.wait()
            if secret == "totp_step":
                won = uow.users.claim_totp_step(user_id, 57_000_000)
            elif secret == "invitation":
                won = uow.invitations.claim(invitation.id)
            else:
                won = uow.recovery_codes.claim(code_id)
            uow.commit()
            return won

    with ThreadPoolExecutor(racers) as pool:
        wins = list(pool.map(lambda _n: claim(), range(racers)))
    assert wins.count(True) == 1, wins
    with bare_store.unit_of_work() as uow:
        assert len(uow.recovery_codes.unused(user_id)) == (0 if secret == "recovery_code" else 1)


def test_a_view_name_is_taken_once_by_racing_transactions_and_defaults_follow_deletion(
    bare_store: Store,
) -> None:
    user_id = _org_and_user(bare_store)
    with bare_store.unit_of_work() as uow:
        user = uow.users.get(user_id)
        assert user is not None
    who = Viewer(user_id, user.organisation_id, Role.ADMIN)
    book = SavedViewBook(bare_store)
    racers = 6
    barrier = threading.Barrier(racers)

    def create(number: int) -> str:
        barrier.wait()
        try:
            return book.create(who, ViewPage.COUNTER, "Täglich", f"period=7d&shop=s{number}").key
        except ViewError as error:
            return error.code

    with ThreadPoolExecutor(racers) as pool:
        answers = list(pool.map(create, range(racers)))
    assert sorted(answers).count("view_name_taken") == racers - 1, answers
    (key,) = [answer for answer in answers if answer != "view_name_taken"]

    with pytest.raises(ViewError, match="view_default_unshared"):
        book.set_default(who, ViewPage.COUNTER, Role.VIEWER, key)
    book.update(who, key, shared=True)
    book.set_default(who, ViewPage.COUNTER, Role.VIEWER, key)
    assert book.default_for(who, ViewPage.COUNTER) is None  # an admin's default is another's
    viewer = Viewer(user_id + 1000, user.organisation_id, Role.VIEWER)
    assert book.default_for(viewer, ViewPage.COUNTER).key == key  # type: ignore[union-attr]
    book.delete(who, key)
    assert book.default_for(viewer, ViewPage.COUNTER) is None
    with bare_store.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(DefaultViewRow)) == 0


def test_one_of_racing_approvers_claims_a_request(bare_store: Store) -> None:
    user_id = _org_and_user(bare_store)
    with bare_store.unit_of_work() as uow:
        user = uow.users.get(user_id)
        assert user is not None
        now = bare_store.clock()
        key, new = uow.approvals.create(
            ApprovalRequest(
                key="",
                organisation_id=user.organisation_id,
                transaction_id="tx_0000000000000001",
                kind=ActionKind.REFUND,
                amount=500,
                currency="EUR",
                reason_code="goodwill",
                idempotency_key="k" * 64,
                baseline=Amounts("captured", "EUR", 1000, 1000, 0, 0),
                requested_by=user_id,
                requester_name="",
                requested_at=now,
                expires_at=now + timedelta(days=7),
                state=State.PENDING,
                reason="Goodwill",
            )
        )
        uow.commit()
    assert new
    racers = 6
    with bare_store.unit_of_work() as uow:
        approvers = [
            uow.users.add(
                organisation_id=user.organisation_id,
                email=f"approver-{number}@example.com",
                password_hash="h",
                role="operator",
            ).id
            for number in range(racers)
        ]
        uow.commit()
    barrier = threading.Barrier(racers)

    def claim(approver: int) -> bool:
        with bare_store.unit_of_work() as uow:
            barrier.wait()
            won = uow.approvals.decide(key, State.APPROVED, approver, now)
            uow.commit()
            return won

    with ThreadPoolExecutor(racers) as pool:
        wins = list(pool.map(claim, approvers))
    assert wins.count(True) == 1, wins
    with bare_store.unit_of_work() as uow:
        again = uow.approvals.by_key(key)
        assert again is not None and again.state is State.APPROVED
        assert uow.approvals.decide(key, State.REJECTED, user_id, now) is False
