"""Dashboard logins: argon2 password hashes, a signed session cookie that carries the CSRF token, the CSRF check
on every form, and a small lockout after repeated failed logins.

The cookie is stateless (HMAC-SHA256 over a JSON payload with the user id, the CSRF token, the issue time and a
fingerprint of the password hash), so changing a password or disabling a user ends their sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request, Response

from cs_health.auth.dependencies import SessionDep
from cs_health.config import Settings, get_settings
from cs_health.dashboard import repository
from cs_health.dashboard.schemas import DashboardUserView
from cs_health.db.tables import DashboardUser
from cs_health.exceptions import CSHealthError, Forbidden

COOKIE = "cs_health_session"
CSRF_FIELD = "csrf_token"
SECRET_FILE = "secret_key"
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class LoginRequired(CSHealthError):
    """No live session: the browser is sent to the login page (and back afterwards)."""

    status_code = 303
    title = "Login required"

    def __init__(self, next_path: str = "/portfolio") -> None:
        super().__init__("log in to see this page")
        self.headers = {"Location": f"/login?next={quote(safe_next(next_path), safe='/')}"}


class CsrfRejected(Forbidden):
    title = "Form without a valid CSRF token"


class LoginFailed(CSHealthError):
    status_code = 401
    title = "Wrong e-mail or password"


class TooManyAttempts(CSHealthError):
    status_code = 429
    title = "Too many failed logins"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches; an unknown user still costs one verification, so timing tells nothing."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def safe_next(path: str | None) -> str:
    """Only a local path is a place to go back to after login (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/portfolio"
    return path


def secret_key(settings: Settings) -> bytes:
    """`SECRET_KEY`, or a random key generated once and kept under DATA_DIR so sessions survive a restart."""
    if settings.SECRET_KEY:
        return settings.SECRET_KEY.encode()
    return _stored_key(settings.DATA_DIR.resolve())


_key_lock = threading.Lock()
_keys: dict[Path, bytes] = {}


def _stored_key(data_dir: Path) -> bytes:
    with _key_lock:
        if data_dir in _keys:
            return _keys[data_dir]
        path = data_dir / SECRET_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text().strip()
        else:
            key = secrets.token_urlsafe(48)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(key + "\n")
        _keys[data_dir] = key.encode()
        return _keys[data_dir]


@dataclass
class WebSession:
    """What the cookie carries. `fresh` marks a session this request made, which the response must set."""

    user_id: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issued: int = field(default_factory=lambda: int(time.time()))
    password: str = ""  # fingerprint of the user's password hash
    fresh: bool = False


def fingerprint(user: DashboardUser) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(web_session: WebSession, key: bytes) -> str:
    payload = _b64(
        json.dumps({k: v for k, v in asdict(web_session).items() if k != "fresh"}, separators=(",", ":")).encode()
    )
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def decode(value: str | None, key: bytes, max_age_seconds: int, now: float) -> WebSession | None:
    """The session in a cookie, or None when it is missing, forged, malformed or too old."""
    if not value or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data: dict[str, Any] = json.loads(_unb64(payload))
        web_session = WebSession(
            user_id=data["user_id"], csrf=str(data["csrf"]), issued=int(data["issued"]), password=data["password"]
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= now - web_session.issued <= max_age_seconds:
        return None
    return web_session


def read_session(request: Request) -> WebSession:
    """The request's session (decoded once): the cookie's, or a new anonymous one the response must set."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    settings = get_settings()
    found = decode(request.cookies.get(COOKIE), secret_key(settings), settings.SESSION_HOURS * 3600, time.time())
    if found is None:
        found = WebSession(fresh=True)
    request.state.web_session = found
    return found


def set_cookie(response: Response, web_session: WebSession) -> None:
    settings = get_settings()
    response.set_cookie(
        COOKIE,
        encode(web_session, secret_key(settings)),
        max_age=settings.SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.BASE_URL.lower().startswith("https://"),
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def current_user(request: Request, session: SessionDep) -> DashboardUserView:
    """The logged-in dashboard user; anyone else is sent to the login page."""
    web_session = read_session(request)
    user = repository.user_by_id(session, web_session.user_id) if web_session.user_id is not None else None
    if user is None or user.disabled or not hmac.compare_digest(web_session.password, fingerprint(user)):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/portfolio")
    return DashboardUserView(id=user.id, email=user.email, role=user.role)


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, refused with 403 unless it carries this session's CSRF token."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    web_session = read_session(request)
    if web_session.fresh or not isinstance(token, str) or not hmac.compare_digest(token, web_session.csrf):
        raise CsrfRejected("the form is missing its CSRF token or it does not match this session; reload the page")
    return {name: value for name, value in form.items() if isinstance(value, str)}


CurrentUser = Annotated[DashboardUserView, Depends(current_user)]
CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


class LoginThrottle:
    """Failed logins per e-mail in this process; after `max_failures` the address is locked for a while.

    In memory on purpose: it slows guessing without a table, and a restart forgiving a lockout is harmless."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def locked_for(self, email: str, now: float, max_failures: int, lockout_seconds: int) -> float:
        """Seconds until `email` may try again (0 when it may now)."""
        with self._lock:
            recent = [t for t in self._failures.get(email.lower(), []) if now - t < lockout_seconds]
            self._failures[email.lower()] = recent
            if len(recent) < max_failures:
                return 0.0
            return max(0.0, lockout_seconds - (now - recent[-max_failures]))

    def failed(self, email: str, now: float) -> None:
        with self._lock:
            self._failures.setdefault(email.lower(), []).append(now)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(email.lower(), None)


THROTTLE = LoginThrottle()
