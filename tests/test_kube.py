"""mboxed.kube against the Kubernetes API stand-in, with the real client."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mboxed import kube
from mboxed.errors import MboxedError, TransientError
from tests.fakes.kube_api import ApiError as FakeApiError
from tests.fakes.kube_api import KubeAPIServer, load_object


def test_api_client_names_a_missing_context(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        path = api.write_kubeconfig(tmp_path / "config", context="one")
        with pytest.raises(MboxedError) as err:
            kube.api_client("two", str(path))
        assert "'two'" in err.value.message and "one" in err.value.hint
        client = kube.api_client("one", str(path))
        assert kube.server_version(client) == "v1.31.0"
    with pytest.raises(MboxedError, match="does not exist"):
        kube.api_client("one", str(tmp_path / "nope"))


def test_missing_permissions_asks_the_api(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.access = lambda attrs: attrs.get("verb") != "delete"
        denied = kube.missing_permissions(
            client, [("create", "apps", "deployments", "sb"), ("delete", "", "pods", "")]
        )
        assert denied == ["delete pods (cluster-wide)"]


def test_apply_manifests_creates_then_updates(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"},
              "data": {"k": "1"}}  # fmt: skip
        assert kube.apply_manifests(client, [cm]) == ["configmap/a"]
        kube.apply_manifests(client, [{**cm, "data": {"k": "2"}}])
        stored = api.get("ConfigMap", "a", "x")
        assert stored is not None and stored["data"] == {"k": "2"}
        assert any("fieldManager=mboxed" in path for _, path in api.requests)


def refuse(code: int) -> Callable[[str, str], None]:
    def before(method: str, path: str) -> None:
        if path.startswith("/api"):
            raise FakeApiError(code, "Refused", f"refused with {code}", {})

    return before


def test_one_table_reads_lists_deletes_and_patches(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.add({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "c", "namespace": "x"}, "data": {"k": "1"}})  # fmt: skip
        api.add(load_object("node-minikube-ready.json"))
        assert kube.read_object(client, "ConfigMap", "x", "c")["data"] == {"k": "1"}  # type: ignore[index]
        assert kube.read_object(client, "ConfigMap", "x", "nope") is None
        kube.patch_object(client, "ConfigMap", "x", "c", {"data": {"k": "2"}})
        assert [o["data"] for o in kube.list_objects(client, "ConfigMap", "x")] == [{"k": "2"}]
        assert [n["kind"] for n in kube.list_objects(client, "Node")] == ["Node"]  # cluster-scoped
        # metadata only: the sums in annotations without the data they describe
        (meta,) = kube.list_objects(client, "ConfigMap", "x", metadata=True)
        assert meta["kind"] == "PartialObjectMetadata" and "data" not in meta
        assert meta["metadata"]["name"] == "c"
        assert kube.delete_object(client, "ConfigMap", "x", "c") is not None
        assert kube.delete_object(client, "ConfigMap", "x", "c") is None  # gone: an answer
        assert kube.list_objects(client, "ConfigMap") == []  # all namespaces


@pytest.mark.parametrize(
    ("code", "reason", "error"),
    [(503, "Service Unavailable", TransientError), (403, "Forbidden", kube.ApiError)],
)
def test_failures_are_transient_or_not(
    tmp_path: Path, code: int, reason: str, error: type[MboxedError]
) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.before = refuse(code)
        calls: list[Callable[[], Any]] = [
            lambda: kube.read_object(client, "Job", "default", "j", hint="why"),
            lambda: kube.list_objects(client, "Pod", "default"),
            lambda: kube.delete_object(client, "Job", "default", "j", hint="why"),
            lambda: kube.patch_object(client, "ConfigMap", "x", "c", {}),
            lambda: kube.missing_permissions(client, [("get", "", "pods", "")]),
        ]
        for call in calls:
            with pytest.raises(MboxedError) as caught:
                call()
            assert type(caught.value) is error
            assert f"HTTP {code} {reason}" in caught.value.message


def test_a_server_that_went_quiet_does_not_hang_a_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube, "REQUEST_TIMEOUT", 0.3)
    with socket.socket() as quiet:  # the kernel accepts connections; nobody answers
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(16)
        config = tmp_path / "config"
        with KubeAPIServer() as api:
            api.write_kubeconfig(config, context="quiet")
        text = config.read_text().replace(api.url, f"http://127.0.0.1:{quiet.getsockname()[1]}")
        config.write_text(text)
        client = kube.api_client("quiet", str(config))
        started = time.monotonic()
        with pytest.raises(TransientError, match="does not answer"):
            kube.read_object(client, "Deployment", "default", "d")
        # the dynamic client's discovery passes no timeout of its own
        with pytest.raises(TransientError, match="does not answer"):
            kube.apply_manifests(client, [{"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "a"}}])  # fmt: skip
        assert time.monotonic() - started < 5


def test_a_server_that_is_down_is_transient(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
    with pytest.raises(TransientError, match="does not answer"):
        kube.list_objects(client, "Job", "default")
