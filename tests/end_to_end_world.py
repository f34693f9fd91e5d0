"""The world of the end-to-end test: everything `mboxed up` talks to, on this
machine and on loopback only.

- the Kubernetes API stand-in (tests/fakes/kube_api.py, controllers on: the
  workloads helm creates report ready), which the `minikube` stand-in boots
  its cluster on;
- the `minikube` and `helm` stand-ins first on PATH (tests/fakes/bin), then
  the system's PATH: the real kubectl, dpkg-query, dockerd, setsid;
- a real OCI registry (Debian docker-registry, tests/sciencebox/registry.py)
  with the test chart at the pinned chart's path, given as `--mirror`;
- the "ingress": an HTTPS server on 127.0.0.1:443 (the Site of
  tests/sciencebox/https_site.py) started once the tls step has issued the
  certificate, serving it with that certificate;
- MBOXED_HOME, KUBECONFIG and the stand-ins' state under the test's tmp dir.

`up` runs in this process through the real App and run_up (the hook that
starts the ingress needs the moment the tls step is done); every other
command runs as `python -m mboxed`, the way a user types it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mboxed.app import App
from mboxed.contract import Options, Plan
from mboxed.engine import StepResult
from mboxed.profile import load_profile
from mboxed.sciencebox.chart import ChartRef
from mboxed.ui import PlainReporter
from tests.fakes.kube_api import KubeAPIServer
from tests.helm import real_helm_path
from tests.sciencebox.https_site import Site, _handler
from tests.sciencebox.registry import Registry, chart_tgz, running_registry

FAKE_BIN = Path(__file__).resolve().parent / "fakes" / "bin"
CHECKOUT = Path(__file__).resolve().parent.parent
INGRESS_PORT = 443  # the minikube provider's https_port: the ingress answers on 443

# What the release's chart creates in the cluster (through the helm stand-in,
# MBOXED_FAKE_HELM_OBJECTS); the API stand-in's controllers make them ready.
RELEASE_OBJECTS: list[dict[str, Any]] = [
    {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "generation": 1},
        "spec": {"replicas": 1},
    }
    for kind, name in (
        ("Deployment", "sciencebox-cernbox-web"),
        ("Deployment", "sciencebox-idp"),
        ("StatefulSet", "sciencebox-mgm"),
    )
]


class HookReporter(PlainReporter):
    """Plain lines, and `hooks[name]()` once step `name` is done: the world
    changes exactly when the pipeline gets there, not after a guessed delay."""

    def __init__(self, out: io.StringIO, hooks: dict[str, Callable[[], None]]) -> None:
        super().__init__(out)
        self.hooks = dict(hooks)

    def step_done(self, name: str, plan: Plan, elapsed: float) -> None:
        super().step_done(name, plan, elapsed)
        hook = self.hooks.pop(name, None)
        if hook is not None:
            hook()


@contextlib.contextmanager
def ingress_site(
    hostname: str, cert: Path, key: Path, address: str = "127.0.0.1"
) -> Iterator[Site]:
    """The Site of https_site.py, served on ADDRESS:443 with mboxed's own
    certificate (not one the test issues)."""
    site = Site(hostname)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        site.sni.append(server_name)

    context.sni_callback = remember_sni
    server = ThreadingHTTPServer((address, INGRESS_PORT), _handler(site))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    site.port = INGRESS_PORT
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class EndToEnd:
    root: Path
    env: dict[str, str]
    api: KubeAPIServer
    registry: Registry
    fake_state: Path
    stack: contextlib.ExitStack
    site: Site | None = None
    ingress_ip: str = "127.0.0.1"  # where the ingress answers
    output: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)

    # -- running mboxed ------------------------------------------------------------
    def up(self, profile: str, *overrides: str) -> tuple[list[StepResult], str]:
        """`mboxed up --yes --mirror REGISTRY --profile P --set ...`, in this
        process, starting the ingress once the tls step has issued its
        certificate."""
        from mboxed.cli.run import run_up

        started = time.monotonic()
        out = io.StringIO()
        app = App(
            profile_ref=profile,
            overrides=overrides,
            options=Options(yes=True, mirror=self.registry.url),
            env=self.env,
            out=out,
        )
        app.reporter = HookReporter(out, {"tls": lambda: self._start_ingress(app)})
        try:
            results = run_up(app, dry_run=False)
        finally:
            handler = app._log_handler
            if handler is not None:
                logging.getLogger("mboxed").removeHandler(handler)
                handler.close()
            self.output.append(out.getvalue())
            self.timings.append(("up (in process)", time.monotonic() - started))
        return results, out.getvalue()

    def _start_ingress(self, app: App) -> None:
        tls = app.state.outputs("tls")
        hostname = app.state.outputs("cluster")["hostname"]
        ingress = contextlib.ExitStack()
        self.site = ingress.enter_context(
            ingress_site(hostname, Path(tls["cert"]), Path(tls["key"]), self.ingress_ip)
        )
        self.site.check = self.ldap_holds
        self.stack.callback(ingress.close)
        self._ingress = ingress

    def ldap_holds(self, user: str, password: str) -> bool:
        """Does LDAP hold this password? What the seeding Job of the last
        deployed revision loads: its users LDIF, whose {SSHA} hashes the
        password must match (as slapd's bind does)."""
        import base64

        from mboxed.sciencebox.ldif import check_ssha

        revisions = self.tool("helm")["releases"].get("default/sciencebox") or []
        deployed = [r for r in revisions if r.get("status") in ("deployed", "superseded")]
        if not deployed:
            return False
        files = ((deployed[-1].get("config") or {}).get("ldap-instance-config") or {}).get(
            "ldifFiles"
        ) or {}
        for entry in str(files.get("10_users.ldif", "")).split("\n\n"):
            lines = entry.splitlines()
            if f"uid: {user}" not in lines:
                continue
            for line in lines:
                if line.startswith("userPassword:: "):
                    hashed = base64.b64decode(line.split(":: ", 1)[1]).decode()
                    return check_ssha(password, hashed)
        return False

    def stop_ingress(self) -> None:
        """The ingress goes with the cluster (after `down`)."""
        ingress = getattr(self, "_ingress", None)
        if ingress is not None:
            ingress.close()
        self.site = None

    def mboxed(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`python -m mboxed ARGS` as a user runs it (bounded)."""
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "mboxed", *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.timings.append((" ".join(args[:2]), time.monotonic() - started))
        self.output.append(f"$ mboxed {' '.join(args)}\n{done.stdout}{done.stderr}")
        if check and done.returncode != 0:
            raise AssertionError(
                f"mboxed {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done

    def start_mboxed(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`python -m mboxed ARGS` started, not waited for, in a session of its
        own: the test can take it down with all it started (helm), as a power
        loss does."""
        self.output.append(f"$ mboxed {' '.join(args)} (started)")
        return subprocess.Popen(
            [sys.executable, "-m", "mboxed", *args],
            env={**self.env, **(env or {})},
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def revisions(self, release: str = "sciencebox", namespace: str = "default") -> list[str]:
        """The helm stand-in's history of a release: each revision's status."""
        stored = self.tool("helm").get("releases", {}).get(f"{namespace}/{release}") or []
        return [str(r["status"]) for r in stored]

    # -- what the stand-ins saw -----------------------------------------------------
    def tool(self, name: str) -> dict[str, Any]:
        path = self.fake_state / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else {"calls": []}

    def calls(self, name: str) -> list[list[str]]:
        """argv of every call of a stand-in, program name first (the helm
        stand-in records its arguments only, the cluster ones the whole argv)."""
        calls = self.tool(name)["calls"]
        if name == "helm":
            return [["helm", *c] for c in calls]
        return [[Path(c[0]).name, *c[1:]] for c in calls]

    def state(self) -> dict[str, Any]:
        import yaml

        path = self.root / "mboxed-home" / "state" / "default" / "state.yaml"
        data: dict[str, Any] = yaml.safe_load(path.read_text())
        return data


def host_ready(
    tools: tuple[str, ...] = ("dockerd", "kubectl", "dpkg-query", "setsid"),
    ingress_ip: str = "127.0.0.1",
    root_because: str = "runs the host steps for real (dockerd, /etc/hosts)",
) -> str:
    """'' when this host can run an end-to-end test (with TOOLS on PATH and
    the ingress on INGRESS_IP:443), else why not."""
    import shutil

    from tests.sciencebox.registry import REGISTRY_BIN

    if os.geteuid() != 0:
        return f"{root_because}: root only (CI)"
    if REGISTRY_BIN is None:
        return "needs Debian's docker-registry"
    for tool in tools:
        if shutil.which(tool) is None:
            return f"needs {tool} on PATH"
    wanted = ("ca-certificates", "curl", "conntrack", "socat")
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\\t${db:Status-Abbrev}\\n", *wanted],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    have = {line.split("\t")[0] for line in listed.splitlines() if "\tii" in line}
    missing = [p for p in wanted if p not in have]
    if missing:
        return (
            f"the packages step would install {' '.join(missing)} from the internet; "
            ".ci/run installs them beforehand"
        )
    import socket

    with socket.socket() as sock:
        # as the server will bind it: connections of a previous run in
        # TIME_WAIT do not count
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ingress_ip, INGRESS_PORT))
        except OSError as exc:
            return f"{ingress_ip}:{INGRESS_PORT} is taken ({exc.strerror}); the ingress needs it"
    return ""


@contextlib.contextmanager
def end_to_end(tmp_path: Path, profile: str, *, extra_env: dict[str, str]) -> Iterator[EndToEnd]:
    fake_state = tmp_path / "fake-state"
    fake_state.mkdir()
    objects = tmp_path / "release-objects.json"
    objects.write_text(json.dumps(RELEASE_OBJECTS))
    sb = load_profile(profile).profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    with contextlib.ExitStack() as stack:
        registry = stack.enter_context(running_registry(tmp_path / "registry", token_auth=True))
        registry.push_chart(ref.repository, ref.tag, chart_tgz("sciencebox", sb.version))
        api = stack.enter_context(KubeAPIServer(controllers=True))
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "SUDO_USER")},
            # the stand-ins first; this interpreter's directory next, so that
            # their `#!/usr/bin/env python3` starts it directly; then the system
            "PATH": os.pathsep.join(
                [str(FAKE_BIN), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
            ),
            "MBOXED_HOME": str(tmp_path / "mboxed-home"),
            "HOME": str(tmp_path),
            "KUBECONFIG": str(tmp_path / "kube" / "config"),
            "MBOXED_FAKE_STATE": str(fake_state),
            "MBOXED_FAKE_KUBE_API": api.url,
            "MBOXED_FAKE_HELM_OBJECTS": str(objects),
            "MBOXED_FAKE_MINIKUBE_IP": "127.0.0.1",
            # the `images` step renders the chart: the real Helm does (no
            # cluster needed); the node's dockerd is not modelled here, so the
            # step finds no image store at tcp://127.0.0.1:2376 and skips
            "MBOXED_FAKE_HELM_REAL": str(real_helm_path() or ""),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(CHECKOUT), os.environ.get("PYTHONPATH", "")) if p
            ),
            **extra_env,
        }
        env.pop("MBOXED_MIRROR", None)
        seed_web_assets(tmp_path / "mboxed-home" / "cache")
        yield EndToEnd(tmp_path, env, api, registry, fake_state, stack)


def seed_web_assets(cache_root: Path) -> None:
    """cernbox-web's two asset files (small tarballs made here) in the download
    cache with their recorded sums, as a first `up` with internet leaves them:
    github.com is not on loopback, and the registry given as `--mirror` serves
    no files. The `web-assets` step then stores them in the API stand-in."""
    import hashlib
    import tarfile

    from mboxed.downloads import RECORDED
    from mboxed.sciencebox.web_assets import ASSETS

    downloads = cache_root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    sums = {}
    for asset, member in zip(ASSETS, ("index.html", "assets/logo.svg"), strict=True):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            data = f"{asset.name}\n".encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        body = out.getvalue()
        sha = hashlib.sha256(body).hexdigest()
        (downloads / sha).write_bytes(body)
        sums[asset.url] = sha
    (downloads / RECORDED).write_text(json.dumps(sums))


def existing_cluster(world: EndToEnd, context: str, ingress_ip: str) -> None:
    """The API stand-in as a cluster someone else runs (provider existing):
    a context for it in KUBECONFIG, a ready node, an IngressClass, and an
    ingress controller whose LoadBalancer Service has INGRESS_IP (where the
    ingress site then answers), and a kubelet that pulls into the node's image
    store. No minikube, no Docker engine, no /etc/hosts."""
    from tests.fakes.kube_api import load_object
    from tests.fakes.kubelet import Kubelets

    world.api.write_kubeconfig(world.env["KUBECONFIG"], context=context)
    # the node's kubelet pulls what the `images` step's pre-pull DaemonSets name
    world.api.kubelets = Kubelets()
    for name in ("node-kind-ready.json", "ingressclass-nginx.json"):
        world.api.add(load_object(name))
    world.api.add(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "ingress-nginx-controller",
                "namespace": "ingress-nginx",
                "labels": {"app.kubernetes.io/component": "controller"},
            },
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": ingress_ip}]}},
        }
    )
    world.ingress_ip = ingress_ip


# What may run on a deployment that is up: reads only (`template` renders
# client-side: the images step's inventory; `history` reads the revisions).
HELM_READS = (["version"], ["status"], ["get", "values"], ["list"], ["history"], ["template"])


def mutating(calls: Sequence[Sequence[str]], reads: Sequence[Sequence[str]]) -> list[list[str]]:
    """The calls whose leading words are none of `reads` (flags skipped)."""
    out = []
    for call in calls:
        words = [w for w in call[1:] if not w.startswith("-")]
        if not any(words[: len(r)] == list(r) for r in reads):
            out.append(list(call))
    return out


# --- offline: `up --bundle` in this process (tests/test_end_to_end_offline.py) ----------


def up_bundle(
    world: EndToEnd, profile: str, bundle: Path, *overrides: str
) -> tuple[list[StepResult], str, Any]:
    """`mboxed up --yes --bundle FILE --profile P --set ...` in this process,
    as `mboxed up` runs it (mboxed.cli.up._bundle_as_mirror around run_up),
    starting the ingress once the tls step is done. Also returns the room
    server the bundle was served by (its stats: what the nodes fetched)."""
    from mboxed import bundle as bundle_module
    from mboxed.cli.run import run_up
    from mboxed.cli.up import _bundle_as_mirror

    served: list[Any] = []
    serve = bundle_module.serve_bundle

    def remembering(*args: Any, **kwargs: Any) -> Any:
        served.append(serve(*args, **kwargs))
        return served[-1]

    out = io.StringIO()
    app = App(
        profile_ref=profile, overrides=overrides, options=Options(yes=True), env=world.env, out=out
    )
    app.reporter = HookReporter(out, {"tls": lambda: world._start_ingress(app)})
    bundle_module.serve_bundle = remembering
    try:
        with contextlib.redirect_stdout(out), _bundle_as_mirror(app, bundle):
            results = run_up(app, dry_run=False)
    finally:
        bundle_module.serve_bundle = serve
        handler = app._log_handler
        if handler is not None:
            logging.getLogger("mboxed").removeHandler(handler)
            handler.close()
        world.output.append(out.getvalue())
    return results, out.getvalue(), served[0] if served else None
