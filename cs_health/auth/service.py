"""API keys: `csh_<prefix>_<secret>`, looked up by prefix, the secret checked against a salted HMAC-SHA256.

The secret is 256 random bits, so a fast keyed hash is as safe as a slow one (there is nothing to guess) and
keeps authentication to microseconds on the ingestion hot path; the per-key salt keeps equal hashes apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy.orm import Session

from cs_health.audit import service as audit
from cs_health.audit.schemas import Actor, AuditAction
from cs_health.auth import repository
from cs_health.auth.schemas import ApiKeyInfo, NewApiKey, Scope
from cs_health.db.base import naive_utc
from cs_health.db.tables import ApiKey
from cs_health.exceptions import BadRequest, Forbidden, NotFound, Unauthorized

KEY_PREFIX = "csh"
HASH_SCHEME = "hmac-sha256"
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()
    return f"{HASH_SCHEME}${salt.hex()}${digest}"


def secret_matches(secret: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest = rest.partition("$")
    if scheme != HASH_SCHEME or not digest:
        return False
    expected = hmac.new(bytes.fromhex(salt_hex), secret.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest)


def parse_scopes(text: str) -> list[Scope]:
    """`ingest,read` -> [Scope.INGEST, Scope.READ]; an unknown or empty list is refused with the valid names."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    valid = ", ".join(scope.value for scope in Scope)
    unknown = [name for name in names if name not in Scope.__members__.values()]
    if not names or unknown:
        raise BadRequest(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; use {valid}")
    return sorted(set(map(Scope, names)), key=list(Scope).index)


def split_key(presented: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def info(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        prefix=key.prefix,
        name=key.name,
        scopes=[Scope(name) for name in key.scopes],
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


def create(
    session: Session,
    scopes: list[Scope],
    *,
    now: dt.datetime,
    actor: Actor,
    name: str | None = None,
    expires_days: int | None = None,
) -> NewApiKey:
    """A new key, audited; the returned `key` is never stored and cannot be recovered later."""
    now = naive_utc(now)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    if expires_days is not None and expires_days <= 0:
        raise BadRequest("--expires-days must be a positive number of days")
    key = repository.add(
        session,
        ApiKey(
            name=name,
            prefix=prefix,
            key_hash=hash_secret(secret),
            scopes=[scope.value for scope in scopes],
            created_at=now,
            expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
        ),
    )
    details = {"name": name, "scopes": key.scopes, "expires_at": key.expires_at}
    audit.record(session, actor, AuditAction.API_KEY_CREATED, at=now, target=prefix, details=details)
    return NewApiKey(info=info(key), key=f"{KEY_PREFIX}_{prefix}_{secret}")


def list_keys(session: Session) -> list[ApiKeyInfo]:
    return [info(key) for key in repository.all_keys(session)]


def revoke(session: Session, prefix: str, *, now: dt.datetime, actor: Actor) -> ApiKeyInfo:
    """Revokes the key with `prefix` (as listed, or with its `csh_` lead), audited; revoking twice keeps (and
    audits) the first time only."""
    wanted = prefix.strip().removeprefix(f"{KEY_PREFIX}_").split("_", 1)[0]
    key = repository.by_prefix(session, wanted)
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}; see `cs-health apikey list`")
    if key.revoked_at is None:
        key.revoked_at = naive_utc(now)
        session.flush()
        details = {"name": key.name, "scopes": key.scopes}
        audit.record(session, actor, AuditAction.API_KEY_REVOKED, at=now, target=key.prefix, details=details)
    return info(key)


def grants(key: ApiKey, scope: Scope) -> bool:
    return Scope.ADMIN.value in key.scopes or scope.value in key.scopes


def authenticate(
    session: Session, presented: str | None, scope: Scope, *, now: dt.datetime, scheme: str = "Bearer"
) -> ApiKey:
    """The live key behind `presented` if it grants `scope`: 401 when missing, unknown, revoked or expired,
    403 when it lacks the scope. Notes the use at most once per TOUCH_INTERVAL per key."""
    now = naive_utc(now)
    if not presented:
        raise Unauthorized("an API key is required", scheme=scheme)
    parts = split_key(presented)
    key = repository.by_prefix(session, parts[0]) if parts else None
    if parts is None or key is None or not secret_matches(parts[1], key.key_hash):
        raise Unauthorized("invalid API key", scheme=scheme)
    if key.revoked_at is not None:
        raise Unauthorized("this API key has been revoked", scheme=scheme)
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("this API key has expired", scheme=scheme)
    if not grants(key, scope):
        raise Forbidden(f"this API key lacks the {scope.value!r} scope", required=scope.value)
    if key.last_used_at is None or key.last_used_at < now - TOUCH_INTERVAL:
        repository.touch(session, key.id, now, now - TOUCH_INTERVAL)
    return key
