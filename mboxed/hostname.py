"""The public hostname of a deployment, and making it resolve.

ScienceBox needs one name that reaches the ingress from the host's browser
AND from inside the cluster (pods call the IdP at https://HOST).

- An explicit FQDN in the profile is used as given; its DNS is the user's.
- `hostname: auto`, online: a wildcard-DNS name embedding the ingress IP
  (`192-168-49-2.nip.io`, answered by nip.io's public DNS for host and pods
  alike) — used only when it really resolves here (some routers drop DNS
  answers that point at private addresses: "DNS rebinding protection").
- `hostname: auto`, offline (or MBOXED_OFFLINE=1): a name under the reserved
  `.test` domain (RFC 6761), made to resolve with an /etc/hosts line on the
  host and a `hosts` entry in the cluster's CoreDNS Corefile.
- An ingress the host reaches on a loopback address (kind, or minikube's
  docker driver, on Docker Desktop or colima: published ports on 127.0.0.1)
  is no address for pods — 127.0.0.1 in a pod is the pod. For `auto` names
  the CoreDNS entry then points at the ingress controller Service's
  ClusterIP, so that pods reach the ingress by the public name too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mboxed import kube
from mboxed.errors import Deferred, MboxedError, ProfileError
from mboxed.providers import INGRESS_DEPLOYMENT, INGRESS_NAMESPACE

WILDCARD_DOMAIN = "nip.io"
OFFLINE_DOMAIN = "mboxed.test"
COREDNS_NAMESPACE = "kube-system"
COREDNS_CONFIGMAP = "coredns"


@dataclass(frozen=True)
class HostnameChoice:
    fqdn: str
    mode: str  # explicit | wildcard | local
    hosts_entry: bool  # needs an /etc/hosts line and a CoreDNS entry


def wildcard_name(ip: str, domain: str = WILDCARD_DOMAIN) -> str:
    """192.168.49.2 → 192-168-49-2.nip.io (the dashed form also works for IPv6
    and never looks like a sub-domain of an IP)."""
    addr = ipaddress.ip_address(ip)
    dashed = str(addr).replace(".", "-").replace(":", "-")
    return f"{dashed}.{domain}"


def local_name(deployment: str) -> str:
    return OFFLINE_DOMAIN if deployment == "default" else f"{deployment}.{OFFLINE_DOMAIN}"


def resolves_to(name: str, ip: str) -> bool:
    """True when the system resolver answers `name` with `ip`."""
    try:
        infos = socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(info[4][0] == ip for info in infos)


def offline(env: Mapping[str, str]) -> bool:
    return str(env.get("MBOXED_OFFLINE", "")).lower() in ("1", "true", "yes")


def choose(
    wanted: str,
    ingress_ip: str,
    deployment: str,
    *,
    is_offline: bool,
    resolver: Callable[[str, str], bool] = resolves_to,
) -> HostnameChoice:
    """Pick the hostname for `hostname: <wanted>` with the ingress at `ingress_ip`."""
    if wanted != "auto":
        return HostnameChoice(wanted, "explicit", False)
    if not is_offline:
        name = wildcard_name(ingress_ip)
        if resolver(name, ingress_ip):
            return HostnameChoice(name, "wildcard", False)
    return HostnameChoice(local_name(deployment), "local", True)


def resolve_hostname(wanted: str, chosen: str | None) -> str:
    """The name ScienceBox is served at: the profile's `hostname`, or for
    `auto` the one the cluster step chose (`chosen`: its `hostname` output,
    None before it ran)."""
    if wanted != "auto":
        return wanted
    if not chosen:
        raise Deferred("cluster", "hostname 'auto' resolves after the cluster step")
    return chosen


def loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_loopback


def needs_cluster_dns(choice: HostnameChoice, ingress_ip: str) -> bool:
    """Does the name need a CoreDNS entry for pods to reach the ingress by it?
    A local name always does; a wildcard name when it points at loopback.
    An explicit name's DNS is the user's."""
    return choice.hosts_entry or (choice.mode == "wildcard" and loopback(ingress_ip))


def in_cluster_address(ingress_ip: str, client: Any) -> str:
    """The address pods reach the ingress at: the host's address, unless that
    is loopback — then the ingress-nginx controller Service's ClusterIP (the
    controller Service of minikube's addon and of kind's manifest alike)."""
    if not loopback(ingress_ip):
        return ingress_ip
    svc = kube.read_object(client, "Service", INGRESS_NAMESPACE, INGRESS_DEPLOYMENT)
    cluster_ip = str(((svc or {}).get("spec") or {}).get("clusterIP") or "")
    if cluster_ip in ("", "None"):
        raise MboxedError(
            f"the ingress answers on {ingress_ip} (loopback) and the Service "
            f"{INGRESS_NAMESPACE}/{INGRESS_DEPLOYMENT} has no ClusterIP for pods to use",
            hint="check the ingress controller (kubectl -n ingress-nginx get svc), "
            "or set `hostname:` to a name your DNS serves",
        )
    return cluster_ip


def existing_dns_refusal(choice: HostnameChoice, ingress_ip: str, context: str) -> ProfileError:
    """Why `hostname: auto` cannot work on an existing cluster (mboxed never
    edits its DNS, and the name needs a CoreDNS entry)."""
    why = (
        f"resolves to {ingress_ip}, which inside pods is the pod itself"
        if choice.mode == "wildcard"
        else f"needs a wildcard-DNS name ({wildcard_name(ingress_ip)} does not resolve here)"
    )
    return ProfileError(
        f"hostname: auto on the existing cluster of context {context!r} {why}, and "
        "mboxed does not edit that cluster's DNS",
        hint="set `hostname:` to a name your DNS resolves to the ingress, for the host and "
        "for pods alike (e.g. --set hostname=sciencebox.example.org)",
    )


# --- /etc/hosts ---------------------------------------------------------------------


def hosts_line(ip: str, fqdn: str) -> str:
    return f"{ip} {fqdn}  # mboxed"


def hosts_has(text: str, ip: str, fqdn: str) -> bool:
    """Does an /etc/hosts text map fqdn to ip (on any line, any alias)?"""
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[0] == ip and fqdn in fields[1:]:
            return True
    return False


def hosts_conflicts(text: str, ip: str, fqdn: str) -> list[str]:
    """Lines mapping fqdn to another address (which would shadow ours)."""
    out = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 2 and fqdn in fields[1:] and fields[0] != ip:
            out.append(raw.strip())
    return out


# --- CoreDNS ------------------------------------------------------------------------

_HOSTS_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)hosts(?P<args>[^{\n]*)\{\n(?P<body>.*?)^(?P=indent)\}",
    re.MULTILINE | re.DOTALL,
)


def corefile_has(corefile: str, ip: str, fqdn: str) -> bool:
    for match in _HOSTS_BLOCK.finditer(corefile):
        for line in match.group("body").splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == ip and fqdn in fields[1:]:
                return True
    return False


def corefile_add(corefile: str, ip: str, fqdn: str) -> str:
    """Add `ip fqdn` to the server block's `hosts` plugin (creating one, with
    `fallthrough`, before `forward` when the Corefile has none — as minikube
    does for host.minikube.internal, pkg/minikube/node/start.go)."""
    if corefile_has(corefile, ip, fqdn):
        return corefile
    match = _HOSTS_BLOCK.search(corefile)
    if match:
        indent = match.group("indent")
        body = match.group("body")
        entry = f"{indent}   {ip} {fqdn}\n"
        start = match.start("body")
        return corefile[:start] + entry + body + corefile[match.end("body") :]
    forward = re.search(r"^(?P<indent>[ \t]*)forward\b", corefile, re.MULTILINE)
    if forward is None:
        raise ValueError("the Corefile has neither a hosts nor a forward plugin")
    indent = forward.group("indent")
    block = f"{indent}hosts {{\n{indent}   {ip} {fqdn}\n{indent}   fallthrough\n{indent}}}\n"
    return corefile[: forward.start()] + block + corefile[forward.start() :]


def corefile_remove(corefile: str, ip: str, fqdn: str) -> str:
    """Drop the `ip fqdn` line that corefile_add put in (and nothing else)."""
    kept = []
    for line in corefile.splitlines(keepends=True):
        fields = line.split()
        if fields[:2] == [ip, fqdn] and len(fields) == 2:
            continue
        kept.append(line)
    return "".join(kept)


def read_corefile(client: Any) -> str | None:
    """The CoreDNS Corefile (None when the cluster has no coredns ConfigMap)."""
    cm = kube.read_object(client, "ConfigMap", COREDNS_NAMESPACE, COREDNS_CONFIGMAP)
    if cm is None:
        return None
    return str((cm.get("data") or {}).get("Corefile", ""))


def write_corefile(client: Any, corefile: str) -> None:
    """Patch the Corefile; CoreDNS's `reload` plugin picks it up."""
    kube.patch_object(
        client, "ConfigMap", COREDNS_NAMESPACE, COREDNS_CONFIGMAP, {"data": {"Corefile": corefile}}
    )
