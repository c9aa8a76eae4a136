"""Secrets: random bearer tokens stored as SHA-256, and salted password hashes."""
from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

#: Token prefixes say what a token is, so the right table is read (and leaks are greppable).
BRAND_KEY = "gcxb_"
EXPERT_TOKEN = "gcxe_"  # noqa: S105 - a prefix, not a secret
STAFF_TOKEN = "gcxs_"  # noqa: S105 - a prefix, not a secret
CUSTOMER_TOKEN = "gcxc_"  # noqa: S105 - a prefix, not a secret


def new_token(prefix: str) -> str:
    """A fresh unguessable token (256 bits) with its kind prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 of a token: tokens are random, so a fast hash is enough and lookups stay indexed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's default)."""
    return generate_password_hash(password)


def check_password(stored: str, password: str) -> bool:
    """Constant-time check of a password against its stored hash."""
    return check_password_hash(stored, password)


#: Hash of a random password, checked when the e-mail is unknown so timing tells nothing.
DUMMY_PASSWORD_HASH = generate_password_hash(secrets.token_hex(16))
