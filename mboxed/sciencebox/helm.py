"""A typed client for the helm v3 CLI: one release namespace of one cluster.

Each method runs one helm command through the Shell, parses its JSON output
and, when helm fails, raises the HelmError subclass that says why, from the
message on stderr (cobra prints "Error: <message>" and helm exits 1,
helm/helm cmd/helm/helm.go). Message texts, helm v3.19.5:
- pkg/storage/driver/driver.go ErrReleaseNotFound "release: not found"
  (`uninstall` wraps it: pkg/action/uninstall.go "uninstall: Release not
  loaded: NAME: release: not found");
- pkg/kube/client.go IsReachable "Kubernetes cluster unreachable[: cause]",
  which every action checks first; one cause is client-go's
  tools/clientcmd/client_config.go getContext `context "NAME" does not
  exist`: no retry brings back a missing context;
- pkg/action/action.go errPending "another operation
  (install/upgrade/rollback) is in progress": the release is pending-install,
  pending-upgrade or pending-rollback (pkg/release/status.go) after a helm
  that was interrupted, and stays so until someone rolls it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mboxed.errors import TransientError
from mboxed.shell import CommandError, Result, Shell

NOT_FOUND = "release: not found"
PENDING = "another operation (install/upgrade/rollback) is in progress"
CONTEXT_MISSING = re.compile(r'context "[^"]*" does not exist')
UNREACHABLE = re.compile(r"Kubernetes cluster unreachable|connection refused|no such host", re.I)


class HelmError(CommandError):
    """helm exited non-zero."""


class ReleaseNotFound(HelmError):
    """The release does not exist (in this namespace)."""


class KubeContextMissing(HelmError):
    """The kube context helm was given is not in the kubeconfig."""


class ClusterUnreachable(HelmError, TransientError):
    """helm cannot reach the API server: worth a retry."""


class ReleasePending(HelmError):
    """An install, upgrade or rollback of the release never finished."""


def failure(result: Result, shell: Shell) -> HelmError:
    """The error a failed helm run stands for (texts: see the module docstring)."""
    stderr = result.stderr
    kind: type[HelmError] = HelmError
    hint = ""
    if NOT_FOUND in stderr:
        kind = ReleaseNotFound
    elif CONTEXT_MISSING.search(stderr):
        kind = KubeContextMissing
        hint = (
            "`mboxed up` (its cluster step) writes the cluster's context into the kubeconfig again"
        )
    elif UNREACHABLE.search(stderr):
        kind = ClusterUnreachable
        hint = "is the cluster running? `mboxed start`"
    elif PENDING in stderr:
        kind = ReleasePending
        hint = (
            "a helm run on this release was interrupted; `helm history` shows the pending "
            "revision and `helm rollback` to the last deployed one ends it"
        )
    error = kind(
        [shell.redact(a) for a in result.argv],
        result.returncode,
        shell.redact(result.stdout),
        shell.redact(result.stderr),
    )
    error.hint = hint
    return error


@dataclass(frozen=True)
class Helm:
    shell: Shell
    namespace: str
    binary: str = "helm"
    context: str | None = None
    kubeconfig: str | None = None
    timeout: float = 900

    def argv(self, *args: str) -> list[str]:
        argv = [self.binary, *args, "--namespace", self.namespace]
        if self.context:
            argv += ["--kube-context", self.context]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        return argv

    def _run(self, *args: str) -> str:
        result = self.shell.run(self.argv(*args), check=False, timeout=self.timeout)
        if not result.ok:
            raise failure(result, self.shell)
        return result.stdout

    def status(self, release: str) -> dict[str, Any] | None:
        """`helm status -o json`: the release (info, manifest, version), None if none."""
        try:
            found: dict[str, Any] = json.loads(self._run("status", release, "-o", "json"))
        except ReleaseNotFound:
            return None
        return found

    def get_values(self, release: str) -> dict[str, Any]:
        """`helm get values -o json`: the user-supplied values ({} for none)."""
        return json.loads(self._run("get", "values", release, "-o", "json") or "null") or {}

    def releases(self, name_filter: str = "") -> list[dict[str, Any]]:
        """`helm list -o json` of the namespace: name, revision, status, chart, ..."""
        args = ["list", "-o", "json", *(["--filter", name_filter] if name_filter else [])]
        rows: list[dict[str, Any]] = json.loads(self._run(*args) or "[]")
        return rows

    def chart(self, release: str) -> str:
        """The "name-version" of the chart the release runs ("" if no release)."""
        rows = self.releases(f"^{re.escape(release)}$")
        return next((str(r.get("chart", "")) for r in rows if r.get("name") == release), "")

    def upgrade_install(
        self, release: str, chart: str, values: Sequence[str], post_renderer: str = ""
    ) -> None:
        """`helm upgrade --install` (creating the namespace) with values files."""
        self._run(
            "upgrade",
            "--install",
            release,
            chart,
            "--create-namespace",
            *_rendering(values, post_renderer),
        )

    def uninstall(self, release: str) -> bool:
        """`helm uninstall`; False when there was no such release."""
        try:
            self._run("uninstall", release)
        except ReleaseNotFound:
            return False
        return True

    def template(
        self,
        release: str,
        chart: str,
        values: Sequence[str],
        post_renderer: str = "",
        *,
        api_versions: Sequence[str] = (),
        kube_version: str = "",
    ) -> str:
        """`helm template`: the manifests an install would apply, rendered
        locally (helm contacts no cluster without --validate). Offline, Helm
        knows only the API versions it is told (`--api-versions`) and assumes
        its own default Kubernetes version unless `--kube-version`."""
        capabilities = [arg for api in api_versions for arg in ("--api-versions", api)]
        if kube_version:
            capabilities += ["--kube-version", kube_version]
        return self._run(
            "template", release, chart, *_rendering(values, post_renderer), *capabilities
        )


def _rendering(values: Sequence[str], post_renderer: str) -> list[str]:
    args = [arg for path in values for arg in ("--values", path)]
    return args + (["--post-renderer", post_renderer] if post_renderer else [])
