"""A real HTTP file server on 127.0.0.1 for the download tests.

Serves registered files at their paths, honours `Range: bytes=N-` (206 with
Content-Range), and answers 404 for anything else. Each file can carry a
queue of faults, one consumed per request, to act like a bad network:

- "drop": send half of what was asked, then close the connection
  (Content-Length promised the whole of it)
- "trickle:N": send at most N bytes, then close (every request with this fault)
- "slow:S": sleep S seconds before answering
- "500": answer HTTP 500
- "nolength": send a body cut short, with no Content-Length, so the client
  cannot tell (only the checksum can)
- "ignore-range": answer 200 with the whole file even when a Range was asked

Every request is recorded (path, Range header) so tests can assert resumes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Served:
    body: bytes
    faults: list[str] = field(default_factory=list)
    sticky: str | None = None  # a fault applied to every request

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class FileServer:
    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(
        self, path: str, body: bytes, faults: list[str] | None = None, sticky: str | None = None
    ) -> Served:
        served = Served(body, list(faults or []), sticky)
        self.files[path] = served
        return served

    def hits(self, path: str) -> list[str | None]:
        """The Range header of every request for `path`, in order."""
        return [rng for p, rng in self.requests if p == path]

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # -- serving -----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        rng = handler.headers.get("Range")
        with self._lock:
            self.requests.append((path, rng))
            served = self.files.get(path)
            fault = None
            if served is not None:
                fault = served.faults.pop(0) if served.faults else served.sticky
        if served is None:
            self._status(handler, 404, b"not found\n")
            return
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = None
        if fault == "500":
            self._status(handler, 500, b"boom\n")
            return
        body = served.body
        start = 0
        if rng and rng.startswith("bytes=") and fault != "ignore-range":
            first = rng[len("bytes=") :].split("-", 1)[0]
            start = int(first) if first.isdigit() else 0
            if start >= len(body):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(body)}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            handler.send_response(200)
        payload = body[start:]
        if fault == "nolength":
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(payload[: len(payload) // 2])
            handler.close_connection = True
            return
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Accept-Ranges", "bytes")
        handler.end_headers()
        if fault == "drop":
            self._write_and_close(handler, payload[: len(payload) // 2])
        elif fault and fault.startswith("trickle:"):
            self._write_and_close(handler, payload[: int(fault.split(":", 1)[1])])
        else:
            for piece in _chunks(payload):
                handler.wfile.write(piece)

    @staticmethod
    def _write_and_close(handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        handler.close_connection = True
        # Cut the TCP connection mid-body, the way a dropped link looks.
        handler.connection.shutdown(2)

    @staticmethod
    def _status(handler: BaseHTTPRequestHandler, code: int, body: bytes) -> None:
        handler.send_response(code)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _chunks(data: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
