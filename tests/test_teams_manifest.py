"""The Teams app package, built through the real `ethicsbot manifest teams` command: what an
admin uploads to Teams must validate against Microsoft's manifest schema, carry the bot id the
server authenticates with, and hold icons Teams accepts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from tests.conftest import ROOT

SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "teams-app-manifest.schema.1.29.json").read_text()
)
CLIENT_VAR = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"
APP_ID = "0b5c7a3e-1f2d-4e6a-9b8c-7d6e5f4a3b2c"


def _cli(*args: str, client_id: str | None = APP_ID) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTIONS__")}
    env["PYTHONPATH"] = str(ROOT)
    if client_id is not None:
        env[CLIENT_VAR] = client_id
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "manifest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _build(tmp_path: Path, *args: str) -> tuple[zipfile.ZipFile, subprocess.CompletedProcess[str]]:
    out = tmp_path / "ethicsbot-teams.zip"
    done = _cli("teams", "--out", str(out), *args)
    assert done.returncode == 0, done.stderr
    return zipfile.ZipFile(io.BytesIO(out.read_bytes())), done


def _manifest(z: zipfile.ZipFile) -> dict:
    return dict(json.loads(z.read("manifest.json")))


def test_package_validates_and_names_the_bot_the_server_runs_as(tmp_path: Path) -> None:
    z, done = _build(tmp_path, "--url", "https://ethics.bank.example/")
    m = _manifest(z)
    jsonschema.Draft7Validator(SCHEMA).validate(m)
    assert m["manifestVersion"] == "1.29"
    assert m["$schema"].endswith("/teams/v1.29/MicrosoftTeams.schema.json")
    (bot,) = m["bots"]
    assert bot["botId"] == m["id"] == APP_ID
    assert bot["scopes"] == ["personal", "team"]
    lists = {tuple(c["scopes"]): [x["title"] for x in c["commands"]] for c in bot["commandLists"]}
    assert {"ethics", "help", "report", "status"} <= set(lists[("personal",)])
    assert any(t.startswith("exercise") for t in lists[("team",)])
    assert m["validDomains"] == ["ethics.bank.example"]
    assert m["developer"]["websiteUrl"] == "https://ethics.bank.example/"
    assert m["name"]["short"] and m["description"]["short"] and m["description"]["full"]
    assert APP_ID in done.stdout and str(tmp_path / "ethicsbot-teams.zip") in done.stdout


def test_package_without_url_still_validates_and_says_the_links_are_placeholders(
    tmp_path: Path,
) -> None:
    z, done = _build(tmp_path)
    m = _manifest(z)
    jsonschema.Draft7Validator(SCHEMA).validate(m)
    assert m["validDomains"] == []
    assert m["developer"]["privacyUrl"] == "https://ethicsbot.invalid/"
    assert "--url" in done.stderr


def test_developer_links_given_by_the_operator_are_used(tmp_path: Path) -> None:
    z, _ = _build(
        tmp_path,
        "--url",
        "https://ethics.bank.example",
        "--developer",
        "Example Bank Compliance",
        "--privacy-url",
        "https://www.bank.example/privacy",
        "--terms-url",
        "https://www.bank.example/terms",
    )
    m = _manifest(z)
    jsonschema.Draft7Validator(SCHEMA).validate(m)
    assert m["developer"] == {
        "name": "Example Bank Compliance",
        "websiteUrl": "https://ethics.bank.example/",
        "privacyUrl": "https://www.bank.example/privacy",
        "termsOfUseUrl": "https://www.bank.example/terms",
    }


def test_zip_holds_exactly_the_manifest_and_its_two_icons(tmp_path: Path) -> None:
    z, _ = _build(tmp_path)
    assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
    icons = _manifest(z)["icons"]
    assert set(icons.values()) == {"color.png", "outline.png"}


def test_icons_have_the_sizes_and_colours_teams_requires(tmp_path: Path) -> None:
    z, _ = _build(tmp_path)
    icons = _manifest(z)["icons"]
    color = Image.open(io.BytesIO(z.read(icons["color"])))
    outline = Image.open(io.BytesIO(z.read(icons["outline"])))
    assert (color.format, color.size, color.mode) == ("PNG", (192, 192), "RGB")
    assert (outline.format, outline.size, outline.mode) == ("PNG", (32, 32), "RGBA")
    raw = outline.tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    # white on transparent: any pixel that shows at all is pure white
    assert all(a == 0 or (r, g, b) == (255, 255, 255) for r, g, b, a in pixels)
    opaque = sum(1 for *_, a in pixels if a == 255)
    clear = sum(1 for *_, a in pixels if a == 0)
    assert opaque >= 100 and clear >= 300, (opaque, clear)  # an emblem, not a blank or a block
    colours = color.getcolors(maxcolors=192 * 192) or []
    assert len(colours) > 2  # drawn, not a flat square
    assert color.getpixel((2, 2)) == (0x1D, 0x35, 0x57)  # the manifest's accent colour
    assert _manifest(z)["accentColor"].lower() == "#1d3557"


def test_rebuilding_gives_the_same_bytes(tmp_path: Path) -> None:
    """An operator can tell whether a rebuilt package changed anything."""
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    assert _cli("teams", "--out", str(a)).returncode == 0
    assert _cli("teams", "--out", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("client_id", "said"),
    [(None, "is not set"), ("", "is not set"), ("ethicsbot-local", "is not a GUID")],
)
def test_unusable_client_id_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, client_id: str | None, said: str
) -> None:
    out = tmp_path / "p.zip"
    done = _cli("teams", "--out", str(out), client_id=client_id)
    assert done.returncode == 2
    assert CLIENT_VAR in done.stderr and said in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_teams_needs_an_out_file_and_an_https_url(tmp_path: Path) -> None:
    done = _cli("teams")
    assert done.returncode == 2 and "--out" in done.stderr
    done = _cli("teams", "--out", str(tmp_path / "p.zip"), "--url", "http://ethics.bank.example")
    assert done.returncode == 2 and "https" in done.stderr
    assert not (tmp_path / "p.zip").exists()


def test_slack_manifest_is_unchanged_by_the_teams_options() -> None:
    done = _cli("slack", "--url", "https://ethics.bank.example")
    assert done.returncode == 0 and json.loads(done.stdout)["features"]["slash_commands"]
    done = _cli("slack", "--url", "https://ethics.bank.example", "--out", "x.zip")
    assert done.returncode == 2 and "teams" in done.stderr
