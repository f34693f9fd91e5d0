"""Steps `kubectl`, `helm`, `minikube`, `kind`: a pinned, verified binary.

A tool already on PATH (or in mboxed's bin dir) at an acceptable version is
reused; its version is read from its own JSON/template output. Otherwise the
pinned release (mboxed.pins.PINNED) is downloaded, verified by sha256,
cached, and installed to the bin dir: ~/.local/bin, or /usr/local/bin as root.
"""

from __future__ import annotations

import json
import os
import platform as platform_mod
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.downloads import Downloader
from mboxed.files import install_file, sha256_of
from mboxed.host import normalize_arch, normalize_os
from mboxed.journal import JournalEntry
from mboxed.pins import PINNED, Release

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def version_tuple(version: str) -> tuple[int, int, int] | None:
    """'v1.32.4-dispatcher' -> (1, 32, 4)."""
    match = _VERSION.match(version.strip())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


# --- version parsers (pure; each fed the tool's real output in tests) ------------------


def parse_kubectl_version(text: str) -> str:
    """`kubectl version --client -o json` -> clientVersion.gitVersion."""
    return str(json.loads(text)["clientVersion"]["gitVersion"])


def parse_helm_version(text: str) -> str:
    """`helm version --template '{{.Version}}'` -> 'v3.18.4'."""
    value = text.strip()
    if not value.startswith("v"):
        raise ValueError(f"not a helm version: {value!r}")
    return value


def parse_minikube_version(text: str) -> str:
    """`minikube version -o json` -> minikubeVersion
    (cmd/minikube/cmd/version.go prints {"commit": ..., "minikubeVersion": ...})."""
    return str(json.loads(text)["minikubeVersion"])


def parse_kind_version(text: str) -> str:
    """`kind version` -> 'v0.24.0' from 'kind v0.24.0 go1.22.6 linux/amd64'
    (pkg/cmd/kind/version/version.go)."""
    match = re.search(r"\bkind (v\d+\.\d+\.\d+\S*)", text)
    if not match:
        raise ValueError(f"not a kind version line: {text.strip()!r}")
    return match.group(1)


# --- acceptability -----------------------------------------------------------------------


def kubectl_ok(version: str, profile: Any) -> tuple[bool, str]:
    """kubectl is supported within one minor version of the API server
    (https://kubernetes.io/releases/version-skew-policy/#kubectl)."""
    have = version_tuple(version)
    cluster = version_tuple(profile.provider.kubernetes_version)
    if have is None or cluster is None:
        return False, "unreadable version"
    if have[0] == cluster[0] and abs(have[1] - cluster[1]) <= 1:
        return (
            True,
            f"within one minor version of the cluster's {profile.provider.kubernetes_version}",
        )
    return (
        False,
        f"more than one minor version from the cluster's {profile.provider.kubernetes_version}",
    )


def at_least(minimum: str, below: str | None = None) -> Callable[[str, Any], tuple[bool, str]]:
    def check(version: str, profile: Any) -> tuple[bool, str]:
        have = version_tuple(version)
        low = version_tuple(minimum)
        assert low is not None
        if have is None:
            return False, "unreadable version"
        if have < low:
            return False, f"older than {minimum}"
        if below is not None:
            high = version_tuple(below)
            assert high is not None
            if have >= high:
                return False, f"not below {below}"
        return True, f">= {minimum}"

    return check


@dataclass(frozen=True)
class ToolSpec:
    name: str
    release: Release
    version_argv: tuple[str, ...]
    parse_version: Callable[[str], str]
    acceptable: Callable[[str, Any], tuple[bool, str]]
    provider: str | None = None  # only needed with this cluster provider


SPECS: dict[str, ToolSpec] = {
    "kubectl": ToolSpec(
        "kubectl",
        PINNED["kubectl"],
        ("version", "--client", "-o", "json"),
        parse_kubectl_version,
        kubectl_ok,
    ),
    "helm": ToolSpec(
        "helm",
        PINNED["helm"],
        ("version", "--template", "{{.Version}}"),
        parse_helm_version,
        at_least("v3.8.0", below="v4.0.0"),  # OCI charts need 3.8
    ),
    "minikube": ToolSpec(
        "minikube",
        PINNED["minikube"],
        ("version", "-o", "json"),
        parse_minikube_version,
        at_least("v1.34.0"),  # first release whose default Kubernetes is v1.31
        provider="minikube",
    ),
    "kind": ToolSpec(
        "kind",
        PINNED["kind"],
        ("version",),
        parse_kind_version,
        at_least("v0.24.0"),  # first release with a v1.31 node image
        provider="kind",
    ),
}


# --- facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    path: str
    version: str | None
    error: str = ""


@dataclass(frozen=True)
class ToolFacts:
    provider: str
    platform: str
    target: str  # where mboxed installs it
    candidates: tuple[Found, ...]
    on_path: bool  # the bin dir is on PATH


def current_platform() -> str:
    return f"{normalize_os(platform_mod.system())}/{normalize_arch(platform_mod.machine())}"


def read_version(shell: Any, path: str, spec: ToolSpec) -> Found:
    result = shell.run([path, *spec.version_argv], check=False, timeout=30)
    if not result.ok:
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
        return Found(path, None, f"exit {result.returncode}: {tail[0][:160]}")
    try:
        return Found(path, spec.parse_version(result.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        return Found(path, None, f"unreadable version output: {exc}")


class ToolStep(BaseStep):
    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.description = f"{spec.name} {spec.release.version} (or a compatible one) on PATH"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {
            "version": self.spec.release.version,
            "provider": ctx.profile.provider.name,
            "kubernetes_version": ctx.profile.provider.kubernetes_version,
        }

    def facts(self, ctx: Context) -> ToolFacts:
        shell = ctx.shell
        target = Path(ctx.paths.bin_dir) / self.spec.name
        paths: list[str] = []
        if target.is_file() and os.access(target, os.X_OK):
            paths.append(str(target))
        found = shell.which(self.spec.name)
        if found is not None and str(found) not in paths:
            paths.append(str(found))
        provider = ctx.profile.provider.name
        needed = self.spec.provider is None or self.spec.provider == provider
        candidates = tuple(read_version(shell, p, self.spec) for p in paths) if needed else ()
        path_dirs = shell.env.get("PATH", "").split(os.pathsep)
        return ToolFacts(
            provider=provider,
            platform=current_platform(),
            target=str(target),
            candidates=candidates,
            on_path=str(target.parent) in path_dirs,
        )

    def chosen(self, ctx: Context, facts: ToolFacts) -> Found | None:
        for candidate in facts.candidates:
            if candidate.version and self.spec.acceptable(candidate.version, ctx.profile)[0]:
                return candidate
        return None

    def plan(self, ctx: Context, facts: ToolFacts) -> Plan:
        return plan_tool(self.spec, facts, ctx.profile, ctx.options.mirror)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        release = self.spec.release
        for action in plan.actions:
            platform = action.detail["platform"]
            target = Path(action.detail["target"])
            downloader = Downloader(
                Path(ctx.paths.cache_root), mirror=ctx.options.mirror, progress=ctx.progress
            )
            verified = downloader.fetch(release, platform)
            backup = None
            if target.exists():
                backup = self._backup(ctx, target)
            install_file(verified, target, release.archive_member(platform))
            if backup is None:
                ctx.record("file_created", path=str(target))
            else:
                ctx.record("file_replaced", path=str(target), backup=str(backup))
            if not action.detail.get("on_path"):
                ctx.progress(
                    f"{target.parent} is not on your PATH: add it "
                    f'(export PATH="{target.parent}:$PATH") to run {self.spec.name} yourself'
                )
        return None

    def _backup(self, ctx: Context, target: Path) -> Path:
        """Keep what was at `target` so `down` can put it back."""
        backup_dir = Path(ctx.paths.cache_root) / "replaced"
        backup_dir.mkdir(parents=True, exist_ok=True)
        backup = backup_dir / f"{target.name}-{sha256_of(target)[:16]}"
        shutil.copy2(target, backup)
        return backup

    def outputs(self, ctx: Context, facts: ToolFacts) -> Mapping[str, Any]:
        chosen = self.chosen(ctx, facts)
        if chosen is None:
            return {}
        return {"path": chosen.path, "version": chosen.version}

    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        from mboxed.journal import revert

        for entry in reversed(journal):
            if entry.kind == "file_replaced":
                backup = Path(entry.data["backup"])
                if backup.is_file():
                    os.replace(backup, entry.data["path"])
            else:
                revert(ctx, entry)


def plan_tool(spec: ToolSpec, facts: ToolFacts, profile: Any, mirror: str | None) -> Plan:
    """Facts in, actions out (pure)."""
    if spec.provider is not None and spec.provider != facts.provider:
        return Plan.nothing(f"not needed: the cluster provider is {facts.provider}")
    for candidate in facts.candidates:
        if not candidate.version:
            continue
        ok, why = spec.acceptable(candidate.version, profile)
        if ok:
            return Plan.nothing(f"{spec.name} {candidate.version} at {candidate.path} ({why})")
    release = spec.release
    release.check_platform(facts.platform)
    from mboxed.downloads import mirrored

    url = mirrored(release.file_url(facts.platform), mirror)
    verify = (
        "pinned sha256"
        if release.pinned(facts.platform)
        else "sha256 from " + mirrored(release.sum_url(facts.platform), mirror)
    )
    rejected = [
        f"{c.path} is {c.version} ({spec.acceptable(c.version, profile)[1]})"
        if c.version
        else f"{c.path}: {c.error}"
        for c in facts.candidates
    ]
    summary = (
        f"download {spec.name} {release.version} ({facts.platform}) from {url}, "
        f"verify it ({verify}), install to {facts.target}"
    )
    if rejected:
        summary += "; not reusing " + "; ".join(rejected)
    return Plan(
        [
            Action(
                summary,
                "install",
                {
                    "platform": facts.platform,
                    "target": facts.target,
                    "url": url,
                    "on_path": facts.on_path,
                },
            )
        ]
    )


def kubectl() -> ToolStep:
    return ToolStep(SPECS["kubectl"])


def helm() -> ToolStep:
    return ToolStep(SPECS["helm"])


def minikube() -> ToolStep:
    return ToolStep(SPECS["minikube"])


def kind() -> ToolStep:
    return ToolStep(SPECS["kind"])
