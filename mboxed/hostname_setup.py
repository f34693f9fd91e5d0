"""Giving a deployment its hostname: keep or choose it, and make a local name
resolve, on the host (a hosts-file line) and in the cluster (a CoreDNS entry).

The cluster step journals what these functions changed; the pure rules
(which name, what a hosts line or a Corefile looks like) are in
mboxed.hostname.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mboxed import hostname as hn
from mboxed import kube
from mboxed.errors import MboxedError


def keep_or_choose(
    wanted: str,
    previous: Mapping[str, Any],
    address: str,
    deployment: str,
    *,
    is_offline: bool,
) -> hn.HostnameChoice:
    """The hostname for `hostname: <wanted>` with the ingress at `address`;
    `previous`: the cluster step's outputs of an earlier run."""
    # Keep an earlier choice while the address is the same: the hostname is
    # baked into certificates and Helm values, it must not flip between runs.
    if (
        wanted == "auto"
        and previous.get("ingress_address") == address
        and previous.get("hostname_mode") in ("wildcard", "local")
    ):
        mode = str(previous["hostname_mode"])
        return hn.HostnameChoice(str(previous["hostname"]), mode, mode == "local")
    return hn.choose(wanted, address, deployment, is_offline=is_offline)


# --- the hosts file ---------------------------------------------------------------------


def _hosts_text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def hosts_file_has(path: Path, ip: str, fqdn: str) -> bool:
    return hn.hosts_has(_hosts_text(path), ip, fqdn)


def add_hosts_line(path: Path, ip: str, fqdn: str, shell: Any) -> dict[str, Any] | None:
    """Append `ip fqdn` to the hosts file (through `sudo tee -a` when the file
    is not writable here). Returns what to journal as `line_added`, or None
    when the file maps the name already; refuses a file that maps it elsewhere."""
    text = _hosts_text(path)
    if hn.hosts_has(text, ip, fqdn):
        return None
    conflicts = hn.hosts_conflicts(text, ip, fqdn)
    if conflicts:
        raise MboxedError(
            f"{path} already maps {fqdn} elsewhere: {'; '.join(conflicts)}",
            hint="remove that line, or set `hostname:` in the profile to another name",
        )
    line = hn.hosts_line(ip, fqdn)
    prefix = "" if not text or text.endswith("\n") else "\n"
    needs_root = not os.access(path if path.exists() else path.parent, os.W_OK)
    if needs_root:
        shell.run(["tee", "-a", str(path)], input=prefix + line + "\n", root=True)
    else:
        with path.open("a") as fh:
            fh.write(prefix + line + "\n")
    return {"path": str(path), "line": line, "root": needs_root}


# --- the cluster's CoreDNS --------------------------------------------------------------


def coredns_has(client: Any, ip: str, fqdn: str) -> bool:
    corefile = hn.read_corefile(client)
    return corefile is not None and hn.corefile_has(corefile, ip, fqdn)


def add_coredns_entry(client: Any, ip: str, fqdn: str, *, context: str) -> bool:
    """Make the cluster's CoreDNS answer `fqdn` with `ip`; True when this
    changed the Corefile (False: the entry was there)."""
    corefile = hn.read_corefile(client)
    if corefile is None:
        raise MboxedError(
            f"the cluster of context {context!r} has no kube-system/coredns ConfigMap",
            hint=f"make {fqdn} resolve to {ip} in the cluster's DNS yourself, "
            "or set `hostname:` to a name your DNS serves",
        )
    if hn.corefile_has(corefile, ip, fqdn):
        return False
    hn.write_corefile(client, hn.corefile_add(corefile, ip, fqdn))
    return True


def remove_coredns_entry(
    context: str | None, kubeconfig: str | None, ip: str, fqdn: str
) -> str | None:
    """Take out the entry add_coredns_entry put in. Returns why it could not
    (the cluster is gone or unreachable: nothing is left to revert there)."""
    try:
        client = kube.api_client(context, kubeconfig)
        corefile = hn.read_corefile(client)
    except (MboxedError, OSError) as exc:  # OSError: an unreadable kubeconfig
        return str(exc)
    if corefile is not None and hn.corefile_has(corefile, ip, fqdn):
        hn.write_corefile(client, hn.corefile_remove(corefile, ip, fqdn))
    return None
