"""Real receivers for alert integration tests: an SMTP server (aiosmtpd) and an HTTP server that
takes JSON webhooks (stdlib), each on an ephemeral port of 127.0.0.1 in a thread of its own,
recording everything they receive."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


# --- SMTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    received_at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The text/plain body (the plain alternative of a multipart message)."""
        part = self.message.get_body(preferencelist=("plain",))
        if part is None:
            part = self.message.get_body(preferencelist=("html",))
        assert part is not None, f"no text body in {self.message!r}"
        return str(part.get_content())


class _Recorder:
    def __init__(self, box: SmtpReceiver) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message, time.time())
        with self.box.lock:
            self.box.mails.append(mail)
        return "250 Message accepted for delivery"


class _BoundController(Controller):  # type: ignore[misc]
    """aiosmtpd's threaded controller on a socket we bound to port 0 (no port guessing)."""

    def __init__(self, handler: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        super().__init__(handler, hostname=HOST, port=self.sock.getsockname()[1])

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self.sock)


@dataclass
class SmtpReceiver:
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def url(self, sender: str = "closing@example.com", to: str = "ops@example.com") -> str:
        return f"mailto://{HOST}:{self.port}?from={sender}&to={to}"


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    box = SmtpReceiver()
    controller = _BoundController(_Recorder(box))
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


# --- HTTP (JSON webhooks) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hook:
    method: str
    path: str
    headers: dict[str, str]
    payload: Any
    received_at: float


@dataclass
class HttpReceiver:
    hooks: list[Hook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    stall: float = 0.0  # hold the next request's response this long (after recording it)
    released: threading.Event = field(default_factory=threading.Event)

    def received(self) -> list[Hook]:
        with self.lock:
            return list(self.hooks)

    def stall_next(self, seconds: float) -> None:
        """Record the next request at once but answer it only after `seconds` (or `release`)."""
        with self.lock:
            self.stall = seconds
            self.released.clear()

    def release(self) -> None:
        self.released.set()

    def url(self, path: str = "hooks/closing") -> str:
        return f"json://{HOST}:{self.port}/{path}"


def _handler_for(box: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                payload: Any = json.loads(raw)
            except ValueError:
                payload = raw.decode("utf-8", "replace")
            hook = Hook("POST", self.path, dict(self.headers.items()), payload, time.time())
            with box.lock:
                box.hooks.append(hook)
                stall, box.stall = box.stall, 0.0
            if stall:
                box.released.wait(stall)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass  # the sender went away (killed while we stalled)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    box = HttpReceiver()
    server = ThreadingHTTPServer((HOST, 0), _handler_for(box))
    server.daemon_threads = True
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but never listens: every connection is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
