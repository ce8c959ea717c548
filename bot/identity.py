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


def derive_key(secret_key: str) -> bytes:
    """The HMAC key from ETHICSBOT_SECRET_KEY (or the stored generated one). Never from a
    platform's secret: rotating Slack's signing secret must not orphan every consultation,
    and a Teams-only instance must not fall back to a key everybody knows.

    Instances that ran before this change derived it from `slack:<signing secret>`; setting
    ETHICSBOT_SECRET_KEY to exactly that string keeps their pseudonyms."""
    base = secret_key or "ethicsbot-dev-key"  # the console demo and unit tests only
    return hashlib.sha256(b"ethicsbot-pseudonym-v1:" + base.encode()).digest()
