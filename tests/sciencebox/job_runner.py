"""Run a rendered Job's container command on this machine, as the kubelet would
start it: its ConfigMap volumes projected into a sandbox (a file for a
`subPath` mount, else a directory of links into `..data`, the layout kubelet
gives ConfigMap volumes, which the chart's `find -type l` relies on), its
env from the manifest, and each mount path in the command and the mounted
files pointed at the sandbox instead of `/root/...`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def objects(manifest: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (obj["kind"], obj["metadata"]["name"]): obj
        for obj in yaml.safe_load_all(manifest)
        if isinstance(obj, dict)
    }


def _project(files: Mapping[str, str], target: Path) -> None:
    """A ConfigMap volume as kubelet writes it (pkg/volume/util/atomic_writer.go):
    the data in a timestamped directory, `..data` linking to it, and one link
    per key into `..data`."""
    stamp = target / "..2026_12_01_00_00_00.000000001"
    stamp.mkdir(parents=True)
    (target / "..data").symlink_to(stamp.name)
    for key, text in files.items():
        (stamp / key).write_text(text)
        (target / key).symlink_to(f"..data/{key}")


def prepare(
    manifest: str, job: str, sandbox: Path, env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run the Job's first container here."""
    found = objects(manifest)
    spec = found[("Job", job)]["spec"]["template"]["spec"]
    container = spec["containers"][0]
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    moved: dict[str, str] = {}
    written: list[Path] = []
    for mount in container.get("volumeMounts") or []:
        data = found[("ConfigMap", volumes[mount["name"]]["configMap"]["name"])]["data"]
        target = sandbox / mount["mountPath"].lstrip("/")
        if mount.get("subPath"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[mount["subPath"]])
            target.chmod(0o755)
            written.append(target)
        else:
            _project(data, target)
        moved[mount["mountPath"]] = str(target)

    def relocate(text: str) -> str:
        for path in sorted(moved, key=len, reverse=True):
            text = text.replace(path, moved[path])
        return text

    for path in written:
        path.write_text(relocate(path.read_text()))
    argv = [relocate(arg) for arg in container["command"]]
    environment = {e["name"]: str(e.get("value", "")) for e in container.get("env") or []}
    return argv, {**environment, **dict(env or {})}


def quick_sleep(bin_dir: Path) -> Path:
    """A `sleep` that returns at once: the scripts wait between steps for a
    server that is already up here."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    sleep = bin_dir / "sleep"
    sleep.write_text("#!/bin/sh\nexit 0\n")
    sleep.chmod(0o755)
    return bin_dir


def run_job(
    manifest: str, job: str, sandbox: Path, bin_dir: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    argv, environment = prepare(manifest, job, sandbox, env)
    path = f"{quick_sleep(bin_dir)}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        argv,
        env={**os.environ, **environment, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
