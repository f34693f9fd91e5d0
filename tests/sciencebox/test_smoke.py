"""The smoke test against real TLS servers on 127.0.0.1 with certificates
from mboxed's local CA; every wrong page makes it fail, saying which."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.sciencebox.smoke import Report, Target, run_smoke, run_until_healthy
from mboxed.sciencebox.tls import make_ca
from tests.sciencebox.https_site import Site, https_site

HOST = "box.example.org"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    with https_site(tmp_path / "site", HOST) as served:
        yield served


def target_for(site: Site, ca: Path, **changes: object) -> Target:
    base = Target(
        hostname=HOST,
        address="127.0.0.1",
        port=site.port,
        ca_cert=str(ca),
        user=("einstein", "relativity"),
        timeout=5,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def by_name(report: Report) -> dict[str, tuple[bool, bool, str]]:
    return {c.name: (c.ok, c.skipped, c.detail) for c in report.checks}


def test_a_healthy_deployment_passes_every_check_over_sni(site: tuple[Site, Path]) -> None:
    served, ca = site
    report = run_smoke(target_for(served, ca))
    assert report.ok, report.as_json()
    assert report.summary() == "5/5 checks passed"
    names = [c.name for c in report.checks]
    assert names == ["landing page", "IdP discovery", "CERNBox web", "SWAN hub", "einstein logs in"]
    assert set(served.sni) == {HOST}, "SNI must carry the public name, not the address"
    assert all(h == f"{HOST}:{served.port}" for h in served.hosts)
    # the login really went to the IdP: the right password, then a wrong one
    logons = [entry["body"]["params"] for entry in served.logons]
    assert logons == [["einstein", "relativity", "1"], ["einstein", "relativity-wrong", "1"]]
    assert served.logons[0]["headers"]["Kopano-Konnect-XSRF"] == "1"


def test_wrong_issuer_fails_naming_both(site: tuple[Site, Path]) -> None:
    served, ca = site
    served.issuer = "https://sciencebox.local"
    served.healthy()
    report = run_smoke(target_for(served, ca))
    assert not report.ok
    ok, _, detail = by_name(report)["IdP discovery"]
    assert not ok
    assert detail == f"issuer is https://sciencebox.local, expected https://{HOST}"
    (failed,) = report.failed
    assert "IDP_ISS" in failed.hint


@pytest.mark.parametrize(
    ("path", "page", "check", "words"),
    [
        ("/sciencebox/", (200, "text/html", b"<html>Welcome to nginx!</html>"), "landing page",
         "not the ScienceBox landing page"),
        ("/sciencebox/", (404, "text/html", b"404"), "landing page", "HTTP 404"),
        ("/.well-known/openid-configuration", (200, "text/html", b"<html></html>"),
         "IdP discovery", "not JSON"),
        ("/", (502, "text/html", b"<html>Bad Gateway</html>"), "CERNBox web", "HTTP 502"),
        ("/", (200, "application/json", b"{}"), "CERNBox web", "no HTML page"),
        ("/swan/hub/health", (503, "text/plain", b""), "SWAN hub", "HTTP 503"),
    ],
)  # fmt: skip
def test_a_wrong_page_fails_that_check_only(
    site: tuple[Site, Path],
    path: str,
    page: tuple[int, str, bytes],
    check: str,
    words: str,
) -> None:
    served, ca = site
    served.pages[path] = page
    report = run_smoke(target_for(served, ca))
    assert [c.name for c in report.failed] == [check]
    assert words in report.failed[0].detail


def test_disabled_components_are_skipped_not_checked(site: tuple[Site, Path]) -> None:
    served, ca = site
    del served.pages["/swan/hub/health"]
    report = run_smoke(target_for(served, ca, swan=False))
    assert report.ok
    assert by_name(report)["SWAN hub"] == (True, True, "component off in the profile")
    assert report.summary() == "4/4 checks passed"


def test_a_wrong_password_is_reported(site: tuple[Site, Path]) -> None:
    served, ca = site
    report = run_smoke(target_for(served, ca, user=("einstein", "nope")))
    (failed,) = report.failed
    assert failed.detail == "the IdP refused einstein's password"


def test_an_idp_that_accepts_any_password_fails(site: tuple[Site, Path]) -> None:
    served, ca = site
    served.accept_any_password = True
    report = run_smoke(target_for(served, ca))
    (failed,) = report.failed
    assert "wrong password was not refused" in failed.detail


def test_a_certificate_from_another_ca_is_not_trusted(
    site: tuple[Site, Path], tmp_path: Path
) -> None:
    served, _ = site
    other = tmp_path / "other-ca.pem"
    other.write_bytes(make_ca("someone else").cert_pem)
    report = run_smoke(target_for(served, other))
    assert not report.ok
    assert all("TLS certificate not trusted" in c.detail for c in report.failed)
    assert len(report.failed) == 5


def test_a_certificate_for_another_name_is_not_trusted(tmp_path: Path) -> None:
    with https_site(tmp_path / "s", "other.example.org") as (served, ca):
        report = run_smoke(target_for(served, ca))
    assert report.failed and "TLS certificate not trusted" in report.failed[0].detail


def nothing_listening(tmp_path: Path, password: str) -> Target:
    """A target on a loopback port that was free a moment ago (nothing answers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ca = tmp_path / "ca.pem"
    ca.write_bytes(make_ca("x").cert_pem)
    return Target(HOST, "127.0.0.1", port, str(ca), user=("einstein", password))


def test_nothing_listening_says_connection_refused(tmp_path: Path) -> None:
    target = nothing_listening(tmp_path, "relativity")
    port = target.port
    report = run_smoke(target)
    assert f"connection refused at 127.0.0.1:{port}" in report.failed[0].detail


def test_waiting_until_healthy_reports_progress(site: tuple[Site, Path]) -> None:
    served, ca = site
    served.pages["/swan/hub/health"] = (503, "text/plain", b"")
    seen: list[str] = []

    def sleep(_: float) -> None:
        served.healthy()  # the hub came up while we waited

    report = run_until_healthy(
        target_for(served, ca), timeout=30, interval=0, progress=seen.append, sleep=sleep
    )
    assert report.ok
    assert seen == ["4/5 checks passed: SWAN hub", "5/5 checks passed"]


def test_report_json_is_machine_readable(site: tuple[Site, Path]) -> None:
    served, ca = site
    data = run_smoke(target_for(served, ca)).as_json()
    assert json.loads(json.dumps(data))[0] == {
        "check": "landing page",
        "url": f"https://{HOST}:{served.port}/sciencebox",
        "ok": True,
        "skipped": False,
        "detail": "ScienceBox landing page",
    }


def test_an_unreachable_ingress_is_tried_once_not_per_check(tmp_path: Path) -> None:
    target = nothing_listening(tmp_path, "x")
    port = target.port
    report = run_smoke(target)
    details = [c.detail for c in report.checks]
    assert details[0] == f"connection refused at 127.0.0.1:{port}"
    assert details[1:] == [f"not tried: connection refused at 127.0.0.1:{port}"] * 4
    assert not report.ok
