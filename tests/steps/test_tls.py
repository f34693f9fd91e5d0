"""Step `tls`: three-way test, renewal on a hostname change, `after cluster`
for hostname auto, and (as root) a real trust-store round trip: after
`trust`, a client with only the system store verifies our server; after
`down`, it no longer does."""

from __future__ import annotations

import os
import shutil
import ssl
import uuid
from pathlib import Path

import pytest

from mboxed.contract import Options
from mboxed.engine import Pipeline
from mboxed.errors import Deferred
from mboxed.sciencebox import tls as sb
from mboxed.steps.tls import make
from tests.sciencebox.context import make_ctx, record, run
from tests.sciencebox.test_tls import fetch, tls_server

HOST = "box.example.org"


def test_three_way_plan_apply_apply_again(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides=[f"hostname={HOST}"])
    step = make()
    plan = step.plan(ctx, step.facts(ctx))
    assert [a.kind for a in plan.actions] == ["ca", "cert"]
    directory = tmp_path / "mboxed-home/state/default/tls"
    assert not directory.exists()
    assert run(ctx, step) == ["done"]
    out = ctx.outputs("tls")
    assert out["secret_name"] == sb.SECRET_NAME
    for key in ("ca_cert", "ca_key", "cert", "key"):
        assert Path(out[key]).is_file() and Path(out[key]).parent == directory
    assert Path(out["key"]).stat().st_mode & 0o777 == 0o600
    assert Path(out["ca_key"]).stat().st_mode & 0o777 == 0o600
    cert_before = Path(out["cert"]).read_bytes()
    assert run(ctx, step) == ["skipped"]
    assert Path(out["cert"]).read_bytes() == cert_before


def test_hostname_change_reissues_the_certificate_with_the_same_ca(tmp_path: Path) -> None:
    run(make_ctx(tmp_path, overrides=[f"hostname={HOST}"]), make())
    ctx = make_ctx(tmp_path, overrides=["hostname=new.example.org"])
    ca_before = Path(ctx.outputs("tls")["ca_cert"]).read_bytes()
    plan = make().plan(ctx, make().facts(ctx))
    assert [a.kind for a in plan.actions] == ["cert"]
    assert "not new.example.org" in plan.actions[0].summary
    run(ctx, make())
    assert Path(ctx.outputs("tls")["ca_cert"]).read_bytes() == ca_before
    assert sb.inspect(Path(ctx.outputs("tls")["cert"]).parent, "new.example.org").cert_ok


def test_hostname_auto_waits_for_the_cluster(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(Deferred) as deferred:
        make().facts(ctx)
    assert deferred.value.after == "cluster"
    record(ctx, "cluster", {"hostname": "192-168-49-2.nip.io"})
    run(ctx, make())
    assert ctx.outputs("tls")["hostname"] == "192-168-49-2.nip.io"


def test_tls_none_plans_nothing(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides=["tls=none"])
    plan = make().plan(ctx, make().facts(ctx))
    assert plan.empty and "tls: none" in plan.reason


def test_down_removes_the_tls_directory(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides=[f"hostname={HOST}"])
    run(ctx, make())
    directory = Path(ctx.outputs("tls")["cert"]).parent
    Pipeline([make()]).down(ctx)
    assert not directory.exists()


def _bundle() -> Path:
    return Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


@pytest.mark.host
@pytest.mark.skipif(os.geteuid() != 0, reason="changes the system trust store: needs root")
@pytest.mark.skipif(
    shutil.which("update-ca-certificates") is None, reason="not a Debian-family host"
)
def test_trust_round_trip_on_this_host(tmp_path: Path) -> None:
    bundle = _bundle()
    saved = bundle.read_bytes()
    deployment = f"t{uuid.uuid4().hex[:10]}"
    ctx = make_ctx(
        tmp_path, overrides=[f"hostname={HOST}"], options=Options(trust=True), deployment=deployment
    )
    anchor = Path(f"/usr/local/share/ca-certificates/mboxed-{deployment}.crt")
    try:
        plan = make().plan(ctx, make().facts(ctx))
        assert [a.kind for a in plan.actions] == ["ca", "cert", "trust"]
        assert run(ctx, make()) == ["done"]
        assert anchor.is_file()
        out = ctx.outputs("tls")
        assert out["trusted"] is True
        assert run(ctx, make()) == ["skipped"]
        system_only = ssl.create_default_context()  # the host's store, nothing else
        with tls_server(Path(out["cert"]), Path(out["key"])) as port:
            assert fetch(port, HOST, system_only) == b"hello over tls\n"
            Pipeline([make()]).down(ctx)
            assert not anchor.exists()
            dangling = [p for p in Path("/etc/ssl/certs").iterdir() if not p.exists()]
            assert dangling == []
            with pytest.raises(ssl.SSLCertVerificationError):
                fetch(port, HOST, ssl.create_default_context())
        assert bundle.read_bytes() == saved
    finally:
        if anchor.exists():
            anchor.unlink()
            ctx.shell.run(["update-ca-certificates"], check=False)
        if bundle.read_bytes() != saved:  # never leave the host's bundle changed
            bundle.write_bytes(saved)
