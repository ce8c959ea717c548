"""`ethicsbot serve` as its own process with its stderr kept, and a TCP proxy to PostgreSQL
that a test can cut and restore (the shared server itself must never be stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """One `python -m bot.cli serve` process; stderr goes to a file the test reads."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.env, self.log, self.args = env, log, list(args)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", *self.args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        return self.proc

    async def start(self, timeout: float = 30.0) -> str:
        proc = self.spawn()
        async with aiohttp.ClientSession() as http:
            for _ in range(int(timeout / 0.05)):
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited {proc.returncode}: {self.text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return self.url
                await asyncio.sleep(0.05)
        raise RuntimeError("server did not start")

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""

    def lines(self) -> list[dict[str, Any]]:
        """Every stderr line as JSON (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    async def aclose(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait without blocking the loop (a fake Slack in this loop must keep
        answering the calls the server finishes while it shuts down)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            for _ in range(int(timeout / 0.05)):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.kill()
        return self.proc.returncode if self.proc else None

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        return self.proc.returncode if self.proc else None


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database of our own on the shared server; dropped afterwards."""
    name = f"eb_ops_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as c:
            c.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def pg_url(name: str, port: int = 5432) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{name}"


class TcpProxy:
    """127.0.0.1:<port> → the PostgreSQL server. `cut()` closes the listener and every open
    connection (the database is gone, as when its host stops); `restore()` listens again on
    the same port, so the client's pool reconnects by itself."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.pipes.update((writer, up_w))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()
                self.pipes.discard(dst)

        await asyncio.gather(pump(reader, up_w), pump(up_r, writer))

    async def cut(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()
        for w in list(self.pipes):
            w.transport.abort()
        self.pipes.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.cut()
