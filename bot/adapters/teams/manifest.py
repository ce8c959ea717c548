"""The Teams app package: manifest.json plus the two icons, zipped as Teams sideloads it.

The manifest declares the bot (its id is the Azure Bot's Microsoft App ID, the same
`CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID` the server authenticates with, so the
package and the server can never disagree), the scopes it answers in (the personal chat for
consultations and speaking up, team channels for the case desk and exercises) and the command
lists Teams shows as suggestions. The package is byte-for-byte the same for the same inputs, so
an operator can tell whether a rebuilt package changed anything.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from bot.adapters.teams.icons import color_icon, outline_icon
from bot.config import ConfigError, TeamsSettings

SCHEMA_URL = "https://developer.microsoft.com/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
MANIFEST_VERSION = "1.29"
CLIENT_ID_VAR = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"
ACCENT = "#1d3557"
# Developer links the schema requires, when the operator gives none: a reserved name (RFC 2606)
# that resolves nowhere, rather than a real site the bank never chose.
PLACEHOLDER_SITE = "https://ethicsbot.invalid/"
FILES = ("manifest.json", "color.png", "outline.png")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
# zip entries carry a timestamp; a fixed one keeps rebuilt packages identical
_EPOCH = (1980, 1, 1, 0, 0, 0)

PERSONAL_COMMANDS = [
    ("ethics", "Think an ethical question through, privately, step by step"),
    ("help", "What EthicsBot does and does not do, and how to reach compliance"),
    ("report", "Speak up to compliance: named, confidential or anonymous"),
    ("status", "Follow up an anonymous report with its receipt code and passphrase"),
    ("lang zh", "Answer in Chinese (中文); 'lang en' for English"),
]
TEAM_COMMANDS = [
    ("exercise list", "Trainers: the scheduled weekly exercises"),
    ("exercise weekly", "Trainers: e.g. 'exercise weekly mon 09:00 fri 16:00 Asia/Shanghai'"),
    ("exercise cancel", "Trainers: 'exercise cancel ID' stops a schedule"),
    ("help", "What EthicsBot does in this channel"),
]


def app_version() -> str:
    """The installed package's version: Teams refuses an update whose version did not grow."""
    try:
        version = metadata.version("ethicsbot")
    except metadata.PackageNotFoundError:
        return "0.1.0"
    return version if _SEMVER.match(version) else "0.1.0"


def bot_id(env: Mapping[str, str]) -> str:
    """The Microsoft App ID from the environment; a clear ConfigError when it is unusable."""
    teams = TeamsSettings.from_env(env)
    client_id = teams.client_id.strip() if teams is not None else ""
    if not client_id:
        raise ConfigError(
            f"{CLIENT_ID_VAR} is not set: the Teams package needs the Azure Bot's Microsoft "
            "App ID (a GUID) as its bot id"
        )
    if not _GUID.match(client_id):
        raise ConfigError(f"{CLIENT_ID_VAR} is not a GUID (the Azure Bot's Microsoft App ID)")
    return client_id.lower()


def _https(url: str, option: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{option} must be an https:// address (Teams calls bots over HTTPS)")
    return url


def teams_manifest(
    client_id: str,
    *,
    url: str | None = None,
    developer: str = "EthicsBot",
    website: str | None = None,
    privacy_url: str | None = None,
    terms_url: str | None = None,
) -> dict[str, Any]:
    """The manifest.json object. `url` is the public base URL of `ethicsbot serve`: its host
    is the one valid domain, and it is the developer website unless `website` is given."""
    domains: list[str] = []
    if url:
        _https(url, "--url")
        domains.append(str(urlsplit(url).netloc).rsplit("@", 1)[-1])
    site = _https(website, "--website") if website else (url.rstrip("/") + "/" if url else None)
    site = site or PLACEHOLDER_SITE
    if len(developer) > 32:
        raise ConfigError("--developer must be at most 32 characters (Teams' limit)")

    def commands(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"title": title, "description": text} for title, text in pairs]

    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": app_version(),
        # Microsoft's guidance: an app whose bot is registered already uses that id
        "id": client_id,
        "developer": {
            "name": developer,
            "websiteUrl": site,
            "privacyUrl": _https(privacy_url, "--privacy-url") if privacy_url else site,
            "termsOfUseUrl": _https(terms_url, "--terms-url") if terms_url else site,
        },
        "name": {"short": "EthicsBot", "full": "EthicsBot: ethics decision support for bank staff"},
        "description": {
            "short": "Think an ethical question through, privately, and speak up safely",
            "full": (
                "EthicsBot walks you privately through the bank's four-step ethical decision "
                "method: identify the issue, gather the facts, evaluate the options against the "
                "bank's values, codes and the law, decide and reflect. It helps you speak up to "
                "compliance (named, confidential or anonymous) when something is serious, runs "
                "the compliance case desk in a channel and posts weekly dilemma exercises. It "
                "is not a hotline and not legal advice. Microsoft 365 keeps its own record that "
                "you chatted with the app. 道德助手：私下梳理道德问题，并安全地向合规部门反映。"
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": client_id,
                "scopes": ["personal", "team"],
                "isNotificationOnly": False,
                "supportsFiles": False,
                "supportsCalling": False,
                "supportsVideo": False,
                "commandLists": [
                    {"scopes": ["personal"], "commands": commands(PERSONAL_COMMANDS)},
                    {"scopes": ["team"], "commands": commands(TEAM_COMMANDS)},
                ],
            }
        ],
        "validDomains": domains,
    }


def package(manifest: Mapping[str, Any]) -> bytes:
    """The zip Teams sideloads: the three files at its root, nothing else."""
    parts = {
        "manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        "color.png": color_icon(),
        "outline.png": outline_icon(),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in FILES:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, parts[name])
    return out.getvalue()
