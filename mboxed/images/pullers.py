"""The puller for the deployment's cluster, by provider:
- minikube: the node's own dockerd, reached with `minikube docker-env`
  (mboxed.images.docker_pull); never `minikube image load`, which holds
  about 6x the image in RAM (minikube #17785). With a room mirror the node
  runs containerd (providers.minikube.room_start_flags): its ctr, through
  `minikube ssh`, pulling through the room's hosts.toml;
- kind: the node's containerd, through `docker exec <node> ctr`
  (mboxed.images.ctr_pull), through the room's hosts.toml when there is one;
- existing: a pre-pull DaemonSet per image, created and removed by mboxed
  (mboxed.images.daemonset_pull): the cluster's kubelets pull.
"""

from __future__ import annotations

from mboxed.contract import Context
from mboxed.images.pull import Puller


def puller_for(ctx: Context) -> Puller | None:
    from mboxed.images.ctr_pull import CtrPuller, kind_node_ctr, minikube_node_ctr
    from mboxed.images.room_pull import CERTS_D
    from mboxed.providers.room_nodes import room_of
    from mboxed.providers.service import make_provider

    provider = make_provider(ctx)
    name = getattr(provider, "name", "")
    room = room_of(provider)
    via = f"room {room}" if room else "upstream"
    if room and ctx.options.bundle:
        via = f"bundle {ctx.options.bundle}"
    hosts_dir = CERTS_D if room else None
    if name == "minikube" and room:
        binary = str(getattr(provider, "binary", "minikube"))
        node_ctr = minikube_node_ctr(binary, provider.spec.name)
        return CtrPuller(ctx.shell, node_ctr, hosts_dir=hosts_dir, via=via)
    if name == "minikube":
        from mboxed.images.docker_pull import DockerPuller, client_for, parse_docker_env

        binary = str(getattr(provider, "binary", "minikube"))
        profile = provider.spec.name
        argv = [binary, "docker-env", "--shell", "none", "-o", "json", "-p", profile]
        env = parse_docker_env(ctx.shell.run(argv, timeout=120).stdout)
        return DockerPuller(client_for(env))
    if name == "kind":
        return CtrPuller(ctx.shell, kind_node_ctr(provider.spec.name), hosts_dir=hosts_dir, via=via)
    if name == "existing":
        from mboxed import kube
        from mboxed.images.daemonset_pull import DaemonSetPuller

        cluster = ctx.outputs("cluster")
        client = kube.api_client(cluster.get("context"), cluster.get("kubeconfig"))
        return DaemonSetPuller(client, ctx.profile.sciencebox.namespace)
    return None
