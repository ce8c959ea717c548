"""Pseudonyms for the people who consult: the database never holds who asked what.

Consultations are stored under a keyed HMAC of the platform identity, not the identity
itself, so neither a database dump nor its WAL shows which colleague walked which dilemma,
and an anonymous reporter's consultation cannot be matched to them by reading the tables.
Only a named or confidential report stores a real identity, because the reporter chose it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

Pseudonymizer = Callable[[str], str]


def make_pseudonymizer(key: bytes) -> Pseudonymizer:
    def pseudonym(identity: str) -> str:
        if identity.startswith("p:"):
            return identity  # already a pseudonym
        return "p:" + hmac.new(key, identity.encode(), hashlib.sha256).hexdigest()[:40]

    return pseudonym


def derive_key(secret_key: str, signing_secret: str) -> bytes:
    """ETHICSBOT_SECRET_KEY when set; else derived from the Slack signing secret; else a
    fixed development key (the console demo on one machine)."""
    base = secret_key or (f"slack:{signing_secret}" if signing_secret else "ethicsbot-dev-key")
    return hashlib.sha256(b"ethicsbot-pseudonym-v1:" + base.encode()).digest()
