"""Passwords and sign-in tokens.

Passwords are hashed with Argon2id (argon2-cffi, the reference implementation's binding) with
its default cost; a hash made with older parameters is upgraded on the next sign-in. A sign-in
issues a random 256-bit token: the API takes it as ``Authorization: Bearer ...`` and the pages
as a session cookie. Only its SHA-256 is stored, with an expiry, and signing out revokes it;
changing a user's password or role revokes every token they hold.

Failed sign-ins are throttled per account and per client address (``throttle``), from attempts
kept in the database so the limit holds across the service's worker processes. An unknown
username costs the same Argon2 verify as a known one (``DUMMY_HASH``) and gets the same answer,
so neither the time taken nor the message tells whether a username exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models import tenancy
from models.accounts import ApiToken, KnownDevice, SignInAttempt, User
from models.base import utcnow

TOKEN_HOURS = 8  # a working day: panels and managers sign in each morning
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()

# The hash an unknown username's password is checked against, so that signing in as nobody costs
# the same Argon2 verify as signing in as someone (made with the hasher's own parameters,
# m=65536 t=3 p=4: tests check it needs no rehash, i.e. the costs match). No password matches it
# that anyone knows, and it belongs to no account, so matching it would sign no one in anyway.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$mUe9UXqvNNTUL/v2TLsnGg$FYZ/bY2J2wSVpqjxI7caSQNSyFzoQjTiiS6eUjsrNjI"

# Throttling failed sign-ins. An account is locked after ACCOUNT_FAILURES failures within
# FAILURE_WINDOW (counted since its last successful sign-in); a client address after
# ADDRESS_FAILURES failures within FAILURE_WINDOW, whichever accounts they were for. A lock lasts
# LOCKOUT from the failure that set it, then lifts by itself: nobody has to ring the help desk,
# and an attacker who locks someone out only delays them.
# - 5 per account: the NCSC allows up to 10 before a lock; a lock that lifts by itself can be
#   tighter. 5 tries per 15 minutes is under 500 guesses a day against a passphrase of 12 or more
#   characters (MIN_PASSWORD_LENGTH): hopeless for guessing, and a person who mistypes is only
#   asked to wait.
# - 50 per address: a council's staff sign in from one office address (NAT), so the address
#   limit must sit well above what a whole team's typos produce; it still caps a password spray
#   (one common password tried on many accounts, which the account limit never sees) at 200 an
#   hour from one address.
# - 15 minutes: long enough to make guessing slow, short enough for a locked-out panel member to
#   get back in before the panel ends.
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 50
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCKOUT = dt.timedelta(minutes=15)
# Attempts are the throttle's working data, not a record (the audit log is): older than this
# they can never count again, so they are pruned as new ones arrive.
ATTEMPTS_KEPT = dt.timedelta(days=1)
# A browser that signed in as a user is known for this long (its cookie's proof): a sign-in as
# that user from it is not held by the address lock, only by the account's own (OWASP's
# "device cookies"), so one attacker behind an office's shared address cannot lock the office
# out; the proof alone signs no one in.
DEVICE_COOKIE = "placematch_device"
DEVICE_KNOWN = dt.timedelta(days=90)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """True when the password is the user's; upgrades an outdated hash in place."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def dummy_check(password: str) -> None:
    """Spend an Argon2 verify's time on a password that can match nobody (an unknown username)."""
    try:
        _hasher.verify(DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        pass


@dataclass(frozen=True)
class Throttled:
    """A sign-in refused before its password is checked: ``scope`` is "account" or "address"."""

    scope: str
    until: dt.datetime

    def minutes(self, now: dt.datetime) -> int:
        """Whole minutes to wait, rounded up (never 0: "try again in 0 minutes" would mislead)."""
        return max(1, -(-int((self.until - now).total_seconds()) // 60))

    def message(self, now: dt.datetime) -> str:
        n = self.minutes(now)
        return f"Too many attempts: try again in {n} minute{'s' if n != 1 else ''}."


def _locked_until(failures: list[dt.datetime], limit: int) -> dt.datetime | None:
    """When a lock set by these failures (newest first) lifts, or None if they set none: the
    newest ``limit`` failures all within FAILURE_WINDOW of each other lock for LOCKOUT from the
    newest."""
    if len(failures) < limit:
        return None
    newest, oldest = failures[0], failures[limit - 1]
    return newest + LOCKOUT if newest - oldest <= FAILURE_WINDOW else None


def throttle(session: Session, username: str, address: str, now: dt.datetime | None = None,
             known_device: bool = False) -> Throttled | None:
    """Whether a sign-in as ``username`` from ``address`` must wait (and until when), from the
    failures recorded so far; from a browser known for this user (``known_device``) only the
    account's own limit holds. ``now`` is for tests; the service passes nothing (the clock)."""
    now = now or utcnow()
    since = now - max(FAILURE_WINDOW, LOCKOUT)
    last_success = session.scalar(select(func.max(SignInAttempt.at)).where(
        SignInAttempt.username == username, SignInAttempt.succeeded.is_(True)))
    account_since = max(since, _aware(last_success)) if last_success is not None else since
    checks = (
        ("account", SignInAttempt.username == username, account_since, ACCOUNT_FAILURES),
        ("address", SignInAttempt.address == address, since, ADDRESS_FAILURES),
    )
    for scope, whose, after, limit in checks[:1] if known_device else checks:
        failures = [_aware(at) for at in session.scalars(
            select(SignInAttempt.at).where(whose, SignInAttempt.succeeded.is_(False), SignInAttempt.at > after,
                                           SignInAttempt.at <= now)
            .order_by(SignInAttempt.at.desc()).limit(limit))]
        until = _locked_until(failures, limit)
        if until is not None and until > now:
            return Throttled(scope, until)
    return None


def record_attempt(session: Session, username: str, address: str, succeeded: bool,
                   now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    session.add(SignInAttempt(at=now, username=username[:80], address=address[:64], succeeded=succeeded))
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - ATTEMPTS_KEPT))


def remember_device(session: Session, user: User, now: dt.datetime | None = None) -> str:
    """A new proof that this browser signed in as ``user`` (for its cookie); the user's expired
    proofs are dropped."""
    now = now or utcnow()
    proof = secrets.token_urlsafe(32)
    session.execute(delete(KnownDevice).where(KnownDevice.user_id == user.id,
                                              KnownDevice.created_at < now - DEVICE_KNOWN))
    session.add(KnownDevice(user_id=user.id, proof_hash=_digest(proof), created_at=now))
    return proof


def is_known_device(session: Session, username: str, proof: str | None, now: dt.datetime | None = None) -> bool:
    """Whether ``proof`` (a browser's device cookie) shows it signed in as ``username`` within
    DEVICE_KNOWN. A proof is long and random: it is looked up by its hash, never compared."""
    if not proof or len(proof) > 100:
        return False
    now = now or utcnow()
    found = session.scalar(
        select(KnownDevice.id).join(User, User.id == KnownDevice.user_id)
        .where(KnownDevice.proof_hash == _digest(proof), User.username == username,
               KnownDevice.created_at > now - DEVICE_KNOWN))
    return found is not None


def revoke_all_tokens(session: Session, user: User) -> int:
    """Revoke every live token the user holds (after a change of password or role: whoever holds
    an old token signed in under the old terms). Returns how many were revoked."""
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
                             .values(revoked=True).execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, hours: int = TOKEN_HOURS) -> tuple[str, dt.datetime]:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(hours=hours)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires))
    return token, expires


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a live token belongs to, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked or _aware(row.expires_at) <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    # Everything the request does from here sees only what this user's council (or provider, or
    # care co-operative) may (models.tenancy).
    tenancy.enter(session, tenancy.scope_for(user))
    return user


def revoke_token(session: Session, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is not None:
        row.revoked = True


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
