"""Image references normalise as Docker/containerd do (cases from
distribution/reference normalize_test.go and the images ScienceBox uses)."""

from __future__ import annotations

import pytest

from mboxed.images.reference import Reference, ReferenceError, normalise, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:stable", "docker.io/library/busybox:stable"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("osixia/openldap:1.5.0", "docker.io/osixia/openldap:1.5.0"),
        ("docker.io/osixia/openldap:1.5.0", "docker.io/osixia/openldap:1.5.0"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/cs3org/revad:v1.19.0", "docker.io/cs3org/revad:v1.19.0"),
        (
            "gitlab-registry.cern.ch/dss/eos/eos-all:5.0.31",
            "gitlab-registry.cern.ch/dss/eos/eos-all:5.0.31",
        ),
        ("localhost/foo", "localhost/foo:latest"),
        ("localhost:5000/foo/bar:1", "localhost:5000/foo/bar:1"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("registry:5000/app", "registry:5000/app:latest"),  # a port makes it a host
        ("Registry/app", "Registry/app:latest"),  # upper case makes it a host
        ("k8s.gcr.io/pause:3.5", "k8s.gcr.io/pause:3.5"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (
            f"registry.k8s.io/ingress-nginx/controller:v1.11.2@{DIGEST}",
            f"registry.k8s.io/ingress-nginx/controller:v1.11.2@{DIGEST}",
        ),
        ("a__b/c-d--e.f:Tag_1.2-x", "docker.io/a__b/c-d--e.f:Tag_1.2-x"),
    ],
)
def test_normalise_matches_docker(text: str, canonical: str) -> None:
    assert normalise(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Busybox",  # single-component names must be lower case
        "docker.io/Library/busybox",
        "a" * 64,  # an image ID, not a name
        "busybox:",  # empty tag
        "busybox:-bad",  # a tag starts with a word character
        "busybox@sha256:abc",  # digest too short
        "busybox@sha256:" + "A" * 64,  # sha256 is lower-case hex
        "foo//bar",
        "foo/bar_",
        "x/" + "a" * 300,  # longer than 255
    ],
)
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(ReferenceError):
        parse(text)


def test_parts_and_forms() -> None:
    ref = parse("busybox:stable")
    assert ref == Reference("docker.io", "library/busybox", "stable", "")
    assert ref.familiar == "busybox:stable"
    assert ref.tagged == "docker.io/library/busybox:stable"
    assert ref.floating
    pinned = ref.with_digest(DIGEST)
    assert not pinned.floating
    assert pinned.pinned == f"docker.io/library/busybox@{DIGEST}"
    assert str(pinned) == f"docker.io/library/busybox:stable@{DIGEST}"
    assert parse("osixia/openldap:1.5.0").familiar == "osixia/openldap:1.5.0"
    assert parse("quay.io/a/b").familiar == "quay.io/a/b:latest"


def test_digest_only_reference_gets_no_tag() -> None:
    ref = parse(f"busybox@{DIGEST}")
    assert ref.tag == ""
    assert ref.digest == DIGEST


def test_pinned_needs_a_digest() -> None:
    with pytest.raises(ReferenceError):
        _ = parse("busybox").pinned
    with pytest.raises(ReferenceError):
        parse("busybox").with_digest("sha256:short")
