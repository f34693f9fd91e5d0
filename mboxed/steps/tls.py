"""Step `tls`: a local CA and a certificate for the public hostname, and on
request (`up --trust`, `mboxed trust`) the CA in the host's trust store.

Files live in `<deployment dir>/tls/` (keys 0600): ca.pem, ca.key, cert.pem,
key.pem. The ingress TLS secret itself is made by the chart from the values
(mboxed.sciencebox.values), so this step needs no cluster — only the hostname,
which with `hostname: auto` is known after the cluster step.

Journal: the tls directory (removed by `down`), and the trust-store entry
(one root command that removes the anchor and refreshes the store).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import MboxedError
from mboxed.hostname import resolve_hostname
from mboxed.sciencebox import tls as sb


@dataclass
class TlsFacts:
    mode: str  # local-ca | none
    hostname: str = ""
    directory: Path | None = None
    material: sb.Material | None = None
    trust_wanted: bool = False
    store: sb.TrustStore | None = None
    trusted: bool = False


def tls_dir(ctx: Context) -> Path:
    return Path(ctx.paths.deployment_dir(ctx.deployment)) / "tls"


def is_trusted(ctx: Context, store: sb.TrustStore, ca_pem: bytes) -> bool:
    if store.family == "macos":
        result = ctx.shell.run(
            ["security", "find-certificate", "-a", "-Z", str(store.anchor)], check=False
        )
        return sb.sha1_fingerprint(ca_pem) in result.stdout.upper()
    try:
        return store.anchor.read_bytes().strip() == ca_pem.strip()
    except OSError:
        return False


class TlsStep(BaseStep):
    name = "tls"
    description = "a local CA and a certificate for the hostname; optionally trusted by the host"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"tls": ctx.profile.tls, "hostname": ctx.profile.hostname}

    def facts(self, ctx: Context) -> TlsFacts:
        if ctx.profile.tls == "none":
            return TlsFacts("none")
        hostname = resolve_hostname(ctx.profile.hostname, ctx.outputs("cluster").get("hostname"))
        directory = tls_dir(ctx)
        material = sb.inspect(directory, hostname)
        found = TlsFacts("local-ca", hostname, directory, material, ctx.options.trust)
        if ctx.options.trust:
            found.store = sb.trust_store(ctx.deployment)
            if found.store is not None and material.ca_ok:
                found.trusted = is_trusted(ctx, found.store, (directory / sb.CA_CERT).read_bytes())
        return found

    def plan(self, ctx: Context, facts: TlsFacts) -> Plan:
        if facts.mode == "none":
            return Plan.nothing(
                "tls: none in the profile (the ingress serves its default certificate)"
            )
        assert facts.material is not None and facts.directory is not None
        actions = []
        if not facts.material.ca_ok:
            actions.append(Action(f"create a local CA in {facts.directory}", kind="ca"))
        if not facts.material.cert_ok:
            why = "; ".join(facts.material.problems[-1:]) if facts.material.ca_ok else "new CA"
            actions.append(Action(f"issue a certificate for {facts.hostname} ({why})", kind="cert"))
        if facts.trust_wanted:
            if facts.store is None:
                raise MboxedError(
                    "--trust: mboxed does not know this host's trust store "
                    "(it knows Debian/Ubuntu, Fedora/RHEL and macOS)",
                    hint=f"import {facts.directory / sb.CA_CERT} into your browser or "
                    "system trust store by hand",
                )
            if not facts.trusted or not facts.material.ca_ok:
                actions.append(
                    Action(f"trust the local CA: {facts.store.describe()}", kind="trust")
                )
        if not actions:
            note = " and trusted by this host" if facts.trust_wanted else ""
            return Plan.nothing(f"certificate for {facts.hostname} is valid{note}")
        return Plan(actions)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        facts = self.facts(ctx)
        assert facts.directory is not None and facts.material is not None
        directory = facts.directory
        kinds = {a.kind for a in plan.actions}
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            ctx.record("dir_created", path=str(directory))
        if "ca" in kinds:
            ca = sb.make_ca(f"mboxed local CA ({ctx.deployment})")
            sb.write_private(directory / sb.CA_KEY, ca.key_pem, 0o600)
            sb.write_private(directory / sb.CA_CERT, ca.cert_pem, 0o644)
        else:
            ca = sb.Issued(
                (directory / sb.CA_CERT).read_bytes(), (directory / sb.CA_KEY).read_bytes()
            )
        if "ca" in kinds or "cert" in kinds:
            ctx.progress(f"issuing a certificate for {facts.hostname}")
            issued = sb.issue(ca, facts.hostname)
            sb.write_private(directory / sb.KEY, issued.key_pem, 0o600)
            sb.write_private(directory / sb.CERT, issued.cert_pem, 0o644)
        if "trust" in kinds:
            store = facts.store
            assert store is not None
            ca_pem = directory / sb.CA_CERT
            sha1 = sb.sha1_fingerprint(ca.cert_pem)
            for argv in store.install_argv(ca_pem):
                ctx.shell.run(argv, root=True)
            ctx.record("command", undo=store.undo_argv(ca_pem, sha1), root=True, check=False)
        return None

    def outputs(self, ctx: Context, facts: TlsFacts) -> Mapping[str, Any]:
        if facts.mode == "none" or facts.material is None:
            return {}
        out: dict[str, Any] = dict(facts.material.paths())
        out.update(
            secret_name=sb.SECRET_NAME,
            hostname=facts.hostname,
            ca_fingerprint_sha256=facts.material.ca_fingerprint,
        )
        if facts.trust_wanted:
            out["trusted"] = facts.trusted
        return out


def make() -> TlsStep:
    return TlsStep()
