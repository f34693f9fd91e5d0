"""The puller for the deployment's cluster, by provider:
- minikube: the node's own dockerd, reached with `minikube docker-env`
  (mboxed.images.docker_pull); never `minikube image load`, which holds
  about 6x the image in RAM (minikube #17785);
- kind: the node's containerd, through `docker exec <node> ctr`
  (mboxed.images.ctr_pull);
- existing: a pre-pull DaemonSet per image, created and removed by mboxed
  (mboxed.images.daemonset_pull): the cluster's kubelets pull.
"""

from __future__ import annotations

from mboxed.contract import Context
from mboxed.images.pull import Puller


def puller_for(ctx: Context) -> Puller | None:
    from mboxed.providers.service import make_provider

    provider = make_provider(ctx)
    name = getattr(provider, "name", "")
    if name == "minikube":
        from mboxed.images.docker_pull import DockerPuller, client_for, parse_docker_env

        binary = str(getattr(provider, "binary", "minikube"))
        profile = provider.spec.name
        argv = [binary, "docker-env", "--shell", "none", "-o", "json", "-p", profile]
        env = parse_docker_env(ctx.shell.run(argv, timeout=120).stdout)
        return DockerPuller(client_for(env))
    if name == "kind":
        from mboxed.images.ctr_pull import CtrPuller, kind_node_ctr

        return CtrPuller(ctx.shell, kind_node_ctr(provider.spec.name))
    if name == "existing":
        from mboxed import kube
        from mboxed.images.daemonset_pull import DaemonSetPuller

        cluster = ctx.outputs("cluster")
        client = kube.api_client(cluster.get("context"), cluster.get("kubeconfig"))
        return DaemonSetPuller(client, ctx.profile.sciencebox.namespace)
    return None
