"""The ingress controller's images, per provider, at the versions mboxed pins.

- minikube v1.34.0 (mboxed.downloads) enables its `ingress` addon, whose
  images are digest-pinned in kubernetes/minikube
  pkg/minikube/assets/addons.go at tag v1.34.0 (210b148df93a): controller
  `ingress-nginx/controller:v1.11.2@sha256:d5f8217f…` and, for both webhook
  Jobs (create, patch), `ingress-nginx/kube-webhook-certgen:v1.4.3@sha256:a320a50c…`,
  all from registry.k8s.io.
- kind: mboxed applies kubernetes/ingress-nginx
  deploy/static/provider/kind/deploy.yaml at controller-v1.11.2
  (mboxed.providers.kind INGRESS_NGINX_*; sha256 dc850e38… checked): lines
  447, 558 and 611 name the same two images with the same digests, each with
  `imagePullPolicy: IfNotPresent`.
- existing: the cluster's own ingress, not mboxed's to pull.
"""

from __future__ import annotations

from mboxed.images.inventory import IF_NOT_PRESENT, INGRESS, Use

CONTROLLER = (
    "registry.k8s.io/ingress-nginx/controller:v1.11.2"
    "@sha256:d5f8217feeac4887cb1ed21f27c2674e58be06bd8f5184cacea2a69abaf78dce"
)
CERTGEN = (
    "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.3"
    "@sha256:a320a50cc91bd15fd2d6fa6de58bd98c1bd64b9a6f926ce23a600d87043455a3"
)


def _use(kind: str, name: str, container: str) -> Use:
    return Use(kind, name, container, False, IF_NOT_PRESENT, IF_NOT_PRESENT, INGRESS)


_NGINX: tuple[tuple[str, Use], ...] = (
    (CONTROLLER, _use("Deployment", "ingress-nginx-controller", "controller")),
    (CERTGEN, _use("Job", "ingress-nginx-admission-create", "create")),
    (CERTGEN, _use("Job", "ingress-nginx-admission-patch", "patch")),
)

BY_PROVIDER: dict[str, tuple[tuple[str, Use], ...]] = {
    "minikube": _NGINX,
    "kind": _NGINX,
    "existing": (),
}


def ingress_images(provider: str) -> tuple[tuple[str, Use], ...]:
    return BY_PROVIDER.get(provider, ())
