"""The Bot Framework token check on `/api/messages`, before anything reads the body.

The SDK's `JwtTokenValidator` does the validation (RS256 only, so `alg: none` and HS256
forgeries fail; audience must be our client id; Entra tenant binding). We call it from our own
guard instead of the SDK's route decorator for two reasons: any failure at all (a token with
no `kid`, an unreachable key set) must answer 401 rather than 500, and tests must be able to
point the key lookup at a local JWKS (the SDK fixes the Bot Framework JWKS URL per issuer).
"""

from __future__ import annotations

import logging

from aiohttp import web
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, ClaimsIdentity
from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    _JwkClientCacheEntry,
    _JwkClientManager,
)

log = logging.getLogger(__name__)

UNAUTHORIZED = {"error": "unauthorized"}


class _FixedKeys(_JwkClientManager):
    """Looks every signing key up in one JWKS (a local one in tests)."""

    def __init__(self, jwks_url: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.jwks_url = jwks_url

    def _get_jwk_client(self, jwks_uri: str) -> _JwkClientCacheEntry:
        return super()._get_jwk_client(self.jwks_url)


class TokenGuard:
    """Decides, from the Authorization header alone, whether a request may be processed."""

    def __init__(self, config: AgentAuthConfiguration, jwks_url: str = "") -> None:
        self.config = config
        self.validator = JwtTokenValidator(config)
        if jwks_url:
            self.validator._jwk_client_manager = _FixedKeys(jwks_url)

    async def check(self, request: web.Request) -> ClaimsIdentity | None:
        """The caller's claims, or None (answer 401). Never raises."""
        header = request.headers.get("Authorization", "")
        if not header:
            if self.config.ANONYMOUS_ALLOWED:
                return ClaimsIdentity()  # the SDK's anonymous identity: local use only
            log.warning("teams: request without a token refused")
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            log.warning("teams: malformed Authorization header refused")
            return None
        try:
            return await self.validator.validate_token(parts[1])
        except Exception as exc:  # every way a token can be bad is a 401, never a 500
            log.warning("teams: token refused (%s)", type(exc).__name__)
            return None


def unauthorized() -> web.Response:
    return web.json_response(UNAUTHORIZED, status=401)
