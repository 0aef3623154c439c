"""Starting the sandbox: data, TLS, and uvicorn, in the foreground or in a thread for tests."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from sarportal.sandbox.app import SandboxApp
from sarportal.sandbox.book import Book
from sarportal.sandbox.config import MERCHANTS, SandboxConfig
from sarportal.sandbox.data import generate
from sarportal.sandbox.ids import IdCodec
from sarportal.sandbox.people import People
from sarportal.sandbox.tls import TlsFiles, create_tls_files

Progress = Callable[[str], None]


def build_app(config: SandboxConfig, progress: Progress | None = None) -> SandboxApp:
    """Generate every merchant's data and wrap it in the HTTP application."""
    now = config.now if config.now is not None else int(time.time())
    tx_ids, customer_ids = IdCodec(config.seed, "tx"), IdCodec(config.seed, "cus")
    people = People(config.seed, pii_canary=config.pii_canary)
    books = {}
    for merchant in MERCHANTS:
        count = (
            config.transactions if merchant.merchant_no == 1 else max(1, config.transactions // 10)
        )
        if progress:
            progress(f"sandbox: preparing {count:,} transactions of {merchant.name} ...")
        data = generate(
            count,
            seed=config.seed,
            merchant_no=merchant.merchant_no,
            now=now,
            shops=merchant.shops,
            order_prefix=merchant.order_prefix,
            backlog_days=config.backlog_days,
        )
        books[merchant.merchant_no] = Book(
            data, tx_ids, customer_ids, people, payout_interval=config.payout_interval
        )
    control_token = secrets.token_urlsafe(24)
    _write_private(config.state_dir / "control-token", control_token.encode())
    return SandboxApp(config, books, control_token)


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS 1.2 or newer only, with the sandbox's own certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.certificate, files.key)
    return context


def _write_private(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


@dataclass
class RunningSandbox:
    """A sandbox that is up: where to reach it and whom to trust."""

    url: str
    ca: Path
    app: SandboxApp
    server: uvicorn.Server

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "ca": str(self.ca), "pid": os.getpid()}


def _prepare(
    config: SandboxConfig, progress: Progress | None
) -> tuple[SandboxApp, uvicorn.Server, socket.socket, TlsFiles]:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio's event loop turns Nagle off (TCP_NODELAY) only on sockets
    # whose proto says TCP, and the accepted sockets inherit it. With Nagle on, a response's
    # second TLS record (uvicorn writes headers and body apart) waits for the client's
    # delayed ACK: 40 ms a request on Linux.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))  # first, so a taken port fails before any work
    sock.listen(2048)
    sock.set_inheritable(True)
    files = create_tls_files(config.state_dir)
    app = build_app(config, progress)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=sock.getsockname()[1],
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        server_header=False,
        date_header=False,
        ssl_certfile=str(files.certificate),
        ssl_keyfile=str(files.key),
        ssl_context_factory=lambda _config, _default: server_ssl_context(files),
    )
    return app, uvicorn.Server(uv_config), sock, files


def _running(
    config: SandboxConfig,
    app: SandboxApp,
    server: uvicorn.Server,
    sock: socket.socket,
    files: TlsFiles,
) -> RunningSandbox:
    host = f"[{config.host}]" if ":" in config.host else config.host
    running = RunningSandbox(f"https://{host}:{sock.getsockname()[1]}", files.ca, app, server)
    _write_private(config.state_dir / "sandbox.json", orjson.dumps(running.describe()))
    return running


def serve(config: SandboxConfig, progress: Progress | None = None) -> None:
    """Run the sandbox in the foreground until interrupted."""
    app, server, sock, files = _prepare(config, progress)
    running = _running(config, app, server, sock, files)
    if progress:
        progress(f"sandbox: serving {running.url} (trust {files.ca})")
    server.run(sockets=[sock])


@contextmanager
def sandbox_in_thread(config: SandboxConfig) -> Iterator[RunningSandbox]:
    """Run the sandbox on its own event loop in a thread; tests reach `app` to inject faults."""
    app, server, sock, files = _prepare(config, None)

    def run() -> None:  # on the configured loop (uvloop), as `serve` runs, not asyncio's default
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.01)
    try:
        yield _running(config, app, server, sock, files)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
