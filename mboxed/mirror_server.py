"""`mboxed mirror serve DIR`: the room mirror as a read-only OCI distribution
endpoint that also serves the files tree (tools, chart paths, ingress
manifest) — one port for everything a laptop fetches.

A plain static server does not suffice: Docker needs a manifest's
Content-Type to read it (a static server sends application/octet-stream),
containerd asks mirrors `…?ns=<registry>`, and both want OCI error JSON.
What is served (opencontainers/distribution-spec spec.md):

- `GET|HEAD /v2/` → 200 `{}`;
- `GET|HEAD /v2/<name>/manifests/<tag|digest>` → the stored bytes, with the
  manifest's own media type as Content-Type and Docker-Content-Digest;
- `GET|HEAD /v2/<name>/blobs/<digest>` → the blob, `Range: bytes=a-b` → 206;
- `GET /v2/<name>/tags/list`, `GET /v2/_catalog` (every repository);
- any other path: the file at that path in the tree (Range too);
- anything else: 404 / 405 with `{"errors": [{"code", "message", "detail"}]}`.

<name> is looked up as `<namespace of ns>/<name>` when containerd sends
`?ns=`, then as given (Docker pulling `<room>/docker.io/library/x`), then as
`docker.io/<name>` (dockerd's `--registry-mirror`, which asks a mirror for
Docker Hub paths). A blob is checked against its digest the first time it is
served (the verdict is remembered per file size and mtime); a corrupt one is
refused by name and never sent. A bundle's blobs are not hashed again as
they are served: `up --bundle` checked every member against the bundle's
manifest just before, or found the very same file checked (mboxed.bundle).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mboxed.errors import MboxedError
from mboxed.images.oci import media_type_of, namespace
from mboxed.room_tree import DirectoryTree, Entry, Tree, read_entry, sha256_entry

API_VERSION = "registry/2.0"
_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_NS = re.compile(r"^[a-z0-9.-]+(?::[0-9]+)?$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass
class RoomStats:
    """What was served, to whom: the instructor's proof that laptops pulled
    from the room (`mboxed mirror serve` prints it as it goes)."""

    bytes_by_client: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, client: str, method: str, path: str, status: int, sent: int) -> None:
        with self.lock:
            self.bytes_by_client[client] = self.bytes_by_client.get(client, 0) + sent
            self.requests.append((method, path, status))


class RoomServer:
    """The room endpoint over a Tree. `start()` serves in a thread (tests,
    `up --bundle`); `serve_forever()` in the foreground (the CLI)."""

    def __init__(
        self,
        tree: Tree,
        bind: str = "0.0.0.0",
        port: int = 8080,
        log: Callable[[str], None] | None = None,
        *,
        verified: bool = False,
    ) -> None:
        """`verified`: every blob of the tree was checked against its digest
        just before (a bundle, mboxed.bundle.verify_bundle): none is hashed
        again as it is served."""
        self.tree = tree
        self.verified = verified
        self.stats = RoomStats()
        self.log = log
        self._verdicts: dict[tuple[str, int, int, float], bool] = {}
        self._verdict_lock = threading.Lock()
        handler = _handler_for(self)
        try:
            self.httpd = ThreadingHTTPServer((bind, port), handler)
        except OSError as exc:
            raise MboxedError(
                f"cannot listen on {bind}:{port}: {exc.strerror or exc}",
                hint="choose another --port, or stop what uses it",
            ) from None
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def start(self) -> RoomServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.5)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RoomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lookups -------------------------------------------------------------------
    def candidates(self, name: str, ns: str | None) -> Iterator[str]:
        if ns and _NS.match(ns.lower()):
            yield f"{namespace(ns)}/{name}"
        yield name
        yield f"docker.io/{name}"

    def find(self, name: str, ns: str | None, kind: str, ref: str) -> Entry | None:
        for candidate in self.candidates(name, ns):
            entry = self.tree.lookup(f"v2/{candidate}/{kind}/{ref}")
            if entry is not None:
                return entry
        return None

    def blob_ok(self, entry: Entry, digest: str) -> bool:
        if self.verified:
            return True
        key = (str(entry.path), entry.offset, entry.size, entry.mtime)
        with self._verdict_lock:
            known = self._verdicts.get(key)
        if known is None:
            known = sha256_entry(entry) == digest
            with self._verdict_lock:
                self._verdicts[key] = known
        return known


def _error(code: str, message: str, detail: str = "") -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "detail": detail}]}).encode()


def _handler_for(room: RoomServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mboxed-room"

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are logged with their size in _done

        def _done(self, status: int, sent: int) -> None:
            client = self.client_address[0]
            path = urlsplit(self.path).path
            room.stats.record(client, self.command, path, status, sent)
            if room.log is not None:
                room.log(f"{client} {self.command} {path} {status} {sent}")

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict[str, str]
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-API-Version", API_VERSION)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self._done(status, 0 if self.command == "HEAD" else len(body))

        def _fail(self, status: int, code: str, message: str, detail: str = "") -> None:
            self._send(status, _error(code, message, detail), "application/json", {})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            ns = (parse_qs(parts.query).get("ns") or [""])[0]
            if path in ("/v2", "/v2/"):
                self._send(200, b"{}", "application/json", {})
                return
            if path == "/v2/_catalog":
                # distribution's catalog API: the room's repositories, by which
                # a laptop knows the registries to point at the room
                body = json.dumps({"repositories": room.tree.repositories()}).encode()
                self._send(200, body, "application/json", {})
                return
            tags = _TAGS.match(path)
            if tags:
                self._tags(tags.group("name"), ns)
                return
            route = _ROUTE.match(path)
            if route:
                name, kind, ref = route.group("name", "kind", "ref")
                if kind == "manifests":
                    self._manifest(name, ns, ref)
                else:
                    self._blob(name, ns, ref)
                return
            if path.startswith("/v2/"):
                self._fail(404, "NAME_UNKNOWN", f"no such path in the room mirror: {path}")
                return
            entry = room.tree.lookup(path.lstrip("/"))
            if entry is None:
                self._fail(404, "NOT_FOUND", f"{path} is not in the room mirror")
                return
            self._file(entry, "application/octet-stream", {})

        def do_HEAD(self) -> None:
            self.do_GET()

        def _refuse_write(self) -> None:
            self.send_response(405)
            body = _error("UNSUPPORTED", "the room mirror is read-only")
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self._done(405, len(body))

        do_PUT = do_POST = do_PATCH = do_DELETE = _refuse_write

        def _tags(self, name: str, ns: str | None) -> None:
            for candidate in room.candidates(name, ns):
                found = room.tree.names(f"v2/{candidate}/manifests")
                if found:
                    tags = [t for t in found if not t.startswith("sha256:")]
                    body = json.dumps({"name": name, "tags": tags}).encode()
                    self._send(200, body, "application/json", {})
                    return
            self._fail(404, "NAME_UNKNOWN", f"repository {name} is not in the room mirror")

        def _manifest(self, name: str, ns: str | None, ref: str) -> None:
            entry = room.find(name, ns, "manifests", ref)
            if entry is None:
                self._fail(404, "MANIFEST_UNKNOWN", f"manifest {name}:{ref} is not in the room")
                return
            body = read_entry(entry)
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            if ref.startswith("sha256:") and digest != ref:
                self._corrupt(f"manifest {name}@{ref}", digest)
                return
            try:
                data = json.loads(body)
                content_type = media_type_of(data if isinstance(data, dict) else {})
            except ValueError:
                content_type = "application/octet-stream"
            headers = {"Docker-Content-Digest": digest, "ETag": f'"{digest}"'}
            self._send(200, body, content_type, headers)

        def _blob(self, name: str, ns: str | None, digest: str) -> None:
            if not _SHA256.match(digest):
                self._fail(400, "DIGEST_INVALID", f"{digest} is not a sha256 digest")
                return
            entry = room.find(name, ns, "blobs", digest)
            if entry is None:
                self._fail(404, "BLOB_UNKNOWN", f"blob {digest} of {name} is not in the room")
                return
            if not room.blob_ok(entry, digest):
                self._corrupt(f"blob {digest} of {name}", "another sha256")
                return
            headers = {"Docker-Content-Digest": digest, "ETag": f'"{digest}"'}
            self._file(entry, "application/octet-stream", headers)

        def _corrupt(self, what: str, actual: str) -> None:
            message = (
                f"{what} in the room mirror does not match its digest (it is {actual}); "
                "refused — run `mboxed mirror DIR` again to repair it"
            )
            if room.log is not None:
                room.log(f"refused: {message}")
            self._fail(500, "BLOB_UNKNOWN" if "blob" in what else "MANIFEST_INVALID", message)

        def _file(self, entry: Entry, content_type: str, headers: dict[str, str]) -> None:
            start, end = 0, entry.size - 1
            status = 200
            wanted = self.headers.get("Range")
            if wanted:
                match = _RANGE.match(wanted.strip())
                first, last = (match.group(1), match.group(2)) if match else ("", "")
                if match and first:
                    start = int(first)
                    end = min(int(last), entry.size - 1) if last else entry.size - 1
                elif match and last:  # suffix range: the last N bytes
                    start = max(entry.size - int(last), 0)
                if not match or start > end or start >= entry.size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{entry.size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self._done(416, 0)
                    return
                status = 206
            length = end - start + 1 if entry.size else 0
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Docker-Distribution-API-Version", API_VERSION)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{entry.size}")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command == "HEAD" or not length:
                self._done(status, 0)
                return
            self.wfile.flush()
            with entry.path.open("rb") as handle:
                # sendfile: the kernel copies file to socket, as registries do
                sent = self.connection.sendfile(handle, entry.offset + start, length)
            self._done(status, sent)

    return Handler


def serve_directory(
    root: Path, bind: str, port: int, log: Callable[[str], None] | None = None
) -> RoomServer:
    if not root.is_dir():
        raise MboxedError(
            f"{root} is not a directory",
            hint="build the room mirror first: mboxed mirror DIR --profile P",
        )
    return RoomServer(DirectoryTree(root), bind, port, log)
