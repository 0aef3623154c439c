"""Server-side sessions: the cookie carries a random id, the `sessions` table the rest.

A session ends after 30 minutes idle or 12 hours in all (settings), gets a new id at sign-in,
and is deleted on the server at sign-out. Nothing is stored before there is something to keep:
an anonymous visitor's session (the sign-in form's CSRF token, a message for the next page) lives
in the cookie itself, signed and timestamped, and becomes a row only once it holds more (a
sign-in, or its second-factor step). Rows past their timeouts are purged on a schedule
(`Housekeeping`).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from werkzeug.datastructures import CallbackDict

from sarportal.config import Clock
from sarportal.store.accounts import Account
from sarportal.store.digest import token_digest
from sarportal.store.engine import DATABASE_DOWN
from sarportal.store.models import WebSession
from sarportal.web.core.services import EXTENSION, Portal

log = logging.getLogger("sarportal.web")

TOUCH_INTERVAL = timedelta(seconds=15)
# What an anonymous session may hold and still live in its cookie (nothing that names anyone).
IN_COOKIE = frozenset({"csrf_token", "_flashes"})
AUTHENTICATED_AT = "authenticated_at"
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The data of one browser session, plus who is signed in to it (`account`: as read with the
    session, in the same query)."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        *,
        sid: str | None = None,
        user_id: int | None = None,
        created_at: datetime | None = None,
        last_seen_at: datetime | None = None,
        expired: bool = False,
        database_down: bool = False,
        account: Account | None = None,
        signed_at: int | None = None,
    ) -> None:
        def on_update(_self: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.user_id = user_id
        self.created_at = created_at
        self.last_seen_at = last_seen_at
        self.expired = expired
        self.database_down = database_down  # the session could not be read: nothing to save
        self.account = account
        self.signed_at = signed_at  # when its cookie was signed, for a session kept in it
        self.modified = False
        self.regenerate = False
        self.ended = False

    @property
    def in_cookie(self) -> bool:
        """Whether the session has nothing the server must keep: no one is signed in to it,
        and it holds only what its cookie may carry."""
        return self.user_id is None and set(self) <= IN_COOKIE

    @property
    def id_hash(self) -> str | None:
        """The digest under which this session is stored, once it has an id."""
        return None if self.sid is None else token_digest(self.sid)

    def sign_in(self, user_id: int, now: datetime) -> None:
        """Bind the session to `user_id` under a new id, dropping all earlier data; the user
        has just proved who they are (`now`)."""
        self.clear()
        self.user_id = user_id
        self.regenerate = True
        self.modified = True
        self.confirm(now)

    def confirm(self, now: datetime) -> None:
        """Note that the user proved who they are in this session at `now` (sign-in, step-up)."""
        self[AUTHENTICATED_AT] = now.timestamp()

    @property
    def authenticated_at(self) -> datetime | None:
        """When the user last proved who they are in this session (other sessions don't count)."""
        value = self.get(AUTHENTICATED_AT)
        return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None

    def end(self) -> None:
        """Delete the session on the server and in the browser."""
        self.clear()
        self.user_id = None
        self.ended = True


class ServerSessionInterface(SessionInterface):
    """Flask's session, kept in the portal's store."""

    def __init__(self, portal: Portal) -> None:
        self._portal = portal
        self._cookie = URLSafeTimedSerializer(
            portal.settings.secret_key,
            salt="sarportal.anonymous-session",
            signer=_ClockSigner,
            signer_kwargs={"clock": portal.settings.clock},
        )

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        settings = self._portal.settings
        raw = request.cookies.get(settings.session_cookie_name)
        if raw and "." in raw and len(raw) <= 4096:  # signed data, not a server session's id
            return self._from_cookie(raw)
        if not raw or len(raw) > 128:
            return ServerSession()
        now = settings.clock()
        try:
            return self._load(raw, now)
        except DATABASE_DOWN:
            # Refused with a clear 503 by `ops._database_guard`; an exception here would
            # escape Flask's error handlers (the session opens before the request is routed).
            log.warning("the session could not be read: the database is unavailable")
            return ServerSession(database_down=True)

    def _from_cookie(self, raw: str) -> ServerSession:
        idle = int(self._portal.settings.session_idle.total_seconds())
        try:
            data, signed = self._cookie.loads(raw, max_age=idle, return_timestamp=True)
        except BadSignature:  # forged, from an older key, or idle too long: start afresh
            return ServerSession()
        if not isinstance(data, dict) or not set(data) <= IN_COOKIE:
            return ServerSession()
        return ServerSession(data, signed_at=int(signed.timestamp()))

    def _load(self, raw: str, now: datetime) -> ServerSession:
        settings = self._portal.settings
        id_hash = token_digest(raw)
        with self._portal.store.unit_of_work() as uow:
            row = uow.sessions.get_with_account(id_hash)
            if row is None:
                return ServerSession(expired=True)
            if (
                now - row.last_seen_at > settings.session_idle
                or now - row.created_at > settings.session_absolute
            ):
                uow.sessions.delete(id_hash)
                uow.commit()
                return ServerSession(expired=row.user_id is not None)
            return ServerSession(
                dict(row.data),
                sid=raw,
                user_id=row.user_id,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                account=row.account,
            )

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession) or session.database_down:
            return
        try:
            self._save(session, response)
        except DATABASE_DOWN:
            if session.ended:  # a sign-out must end the session on the server, or fail
                raise
            log.warning("the session could not be saved: the database is unavailable")

    def _save(self, session: ServerSession, response: Response) -> None:
        if not session.ended and session.in_cookie:
            self._save_in_cookie(session, response)
            return
        settings = self._portal.settings
        name = settings.session_cookie_name
        now = settings.clock()
        with self._portal.store.unit_of_work() as uow:
            old = session.id_hash
            if old is not None and (session.ended or session.regenerate):
                uow.sessions.delete(old)
                session.sid = None
            if session.ended or (not session and session.user_id is None):
                if old is not None:
                    uow.sessions.delete(old)
                uow.commit()
                if old is not None or session.ended:
                    response.delete_cookie(name, path="/", secure=settings.cookie_secure)
                return
            if session.sid is None:
                session.sid = secrets.token_urlsafe(32)
                uow.sessions.add(_new_row(session, now))
                self._set_cookie(response, session.sid)
            elif session.modified or _due_for_touch(session, now):
                row = uow.sessions.get(token_digest(session.sid))
                if row is None:
                    return
                row.data = dict(session)
                row.user_id = session.user_id
                row.last_seen_at = now
            uow.commit()

    def _save_in_cookie(self, session: ServerSession, response: Response) -> None:
        """Keep an anonymous session in its cookie, re-signed when it changed or is due for a
        touch (so that a page left open keeps its form valid while in use)."""
        now = int(self._portal.settings.clock().timestamp())
        if session.id_hash is not None:  # it was a row (a second-factor step left unfinished)
            with self._portal.store.unit_of_work() as uow:
                uow.sessions.delete(session.id_hash)
                uow.commit()
        if not session:
            if session.sid is not None or session.signed_at is not None:
                settings = self._portal.settings
                name = settings.session_cookie_name
                response.delete_cookie(name, path="/", secure=settings.cookie_secure)
            return
        touch = TOUCH_INTERVAL.total_seconds()
        if session.modified or session.signed_at is None or now - session.signed_at >= touch:
            self._set_cookie(response, self._cookie.dumps(dict(session)))

    def _set_cookie(self, response: Response, sid: str) -> None:
        settings = self._portal.settings
        response.set_cookie(
            settings.session_cookie_name,
            sid,
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite="Lax",
        )
        response.vary.add("Cookie")


class _ClockSigner(TimestampSigner):
    """A timestamp signer on the portal's clock (which tests move)."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


def _new_row(session: ServerSession, now: datetime) -> WebSession:
    from flask import request

    assert session.sid is not None  # noqa: S101 (set just before)
    return WebSession(
        id_hash=token_digest(session.sid),
        user_id=session.user_id,
        created_at=now,
        last_seen_at=now,
        user_agent=summarise_user_agent(request.headers.get("User-Agent", "")),
        ip_prefix=ip_prefix(request.remote_addr),
        data=dict(session),
    )


def _due_for_touch(session: ServerSession, now: datetime) -> bool:
    return (
        session.user_id is not None
        and session.last_seen_at is not None
        and now - session.last_seen_at >= TOUCH_INTERVAL
    )


def summarise_user_agent(header: str) -> str:
    """A short 'Browser on System' label; the full header is never stored."""
    browser = next((label for token, label in BROWSERS if token in header), "Unknown browser")
    system = next((label for token, label in SYSTEMS if token in header), "")
    return f"{browser} on {system}" if system else browser


def ip_prefix(address: str | None) -> str:
    """The network of an address (IPv4 /24, IPv6 /48): enough to recognise, not to identify."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def server_session() -> ServerSession:
    """This request's session (server-side sessions are installed by `install`)."""
    from flask import session

    current: Any = session
    if not isinstance(current, ServerSession):
        raise RuntimeError("server-side sessions are not installed")
    return current


def install(app: Flask) -> None:
    """Use server-side sessions for `app`."""
    app.session_interface = ServerSessionInterface(app.extensions[EXTENSION])
