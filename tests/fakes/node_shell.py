"""What the cluster stand-ins do with a command run in a node (kind's
`docker exec NODE sh -c CMD`, minikube's `minikube ssh -- CMD`): the node's
files are a dict in the stand-in's state, and only the commands mboxed sends
are understood (mboxed/providers/room_nodes.py): `echo B64 | base64 -d |
[sudo] sh` with a script of `mkdir -p`, `echo B64 | base64 -d > FILE`,
`rm -f FILE` and `sha256sum FILES 2>/dev/null || true` lines. Anything else
is "not found", exit 127, as sh says it.

`[sudo] ctr ARGS` runs the real ctr against a real containerd when the test
gives one (MBOXED_FAKE_NODE_CONTAINERD: its socket): the node's image store,
with `--hosts-dir /etc/containerd/certs.d` pointed at the node's files
written out. Without it ctr cannot reach containerd, as in a node whose
runtime is down. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CERTS_D = "/etc/containerd/certs.d"
_PIPE = re.compile(r"^echo ([A-Za-z0-9+/=]+) \| base64 -d \| (?:sudo )?sh$")
_WRITE = re.compile(r"^echo ([A-Za-z0-9+/=]+) \| base64 -d > (\S+)$")


def run(files: dict[str, str], words: list[str]) -> int:
    """Run one node command (its words as the stand-in got them); the exit code."""
    if words[:1] == ["sudo"]:
        words = words[1:]
    if words[:1] == ["ctr"]:
        return ctr(files, words[1:])
    if words[:2] == ["sh", "-c"] and len(words) == 3:
        words = [words[2]]
    command = " ".join(words)
    match = _PIPE.match(command)
    if match is None:
        sys.stderr.write(f"sh: 1: {words[0] if words else ''}: not found\n")
        return 127
    for line in base64.b64decode(match.group(1)).decode().splitlines():
        code = _line(files, line.strip())
        if code:
            return code
    return 0


def _line(files: dict[str, str], line: str) -> int:
    write = _WRITE.match(line)
    if write:
        files[write.group(2)] = base64.b64decode(write.group(1)).decode()
        return 0
    words = line.split()
    if words[:2] == ["mkdir", "-p"] or not words:
        return 0
    if words[:2] == ["rm", "-f"]:
        for path in words[2:]:
            files.pop(path, None)
        return 0
    if words[:1] == ["sha256sum"] and words[-3:] == ["2>/dev/null", "||", "true"]:
        for path in words[1:-3]:
            if path in files:
                print(f"{hashlib.sha256(files[path].encode()).hexdigest()}  {path}")
        return 0
    sys.stderr.write(f"sh: 1: {words[0]}: not found\n")
    return 127


def ctr(files: dict[str, str], args: list[str]) -> int:
    address = os.environ.get("MBOXED_FAKE_NODE_CONTAINERD")
    if not address:
        sys.stderr.write(
            'ctr: failed to dial "/run/containerd/containerd.sock": connection error: '
            'desc = "transport: error while dialing: dial unix '
            '/run/containerd/containerd.sock: connect: no such file or directory"\n'
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="fake-node-certs-") as hosts:
        for path, text in files.items():
            if path.startswith(CERTS_D + "/"):
                dest = Path(hosts) / path.removeprefix(CERTS_D + "/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text)
        argv = [shutil.which("ctr") or "ctr", "--address", address]
        argv += [hosts if a == CERTS_D else a for a in args]
        return subprocess.run(argv, check=False).returncode
