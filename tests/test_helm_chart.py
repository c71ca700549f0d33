"""The Helm chart (deploy/helm/ganserve) holds for every values profile (default, gpu, cpu, and
external Redis with a PVC repository): Helm lints it without warnings and renders it, every object
it renders is one the Kubernetes API server of the newest version kubernetes-validate ships would
accept (strict: an unknown field is an error), and the objects keep the deployment's promises:
bounded, non-root containers; probes on every server; Services that reach pods; gRPC on both
gateway Services; a GPU only in the gpu profile; a durable Redis store and an evicting cache;
Triton and Redis reachable from gateway pods only (the store also from the projection workers,
which accept nothing); projection workers on the gateways' store and models, and no projection
subprocesses in the gateways; the keys Secret mounted where GANSERVE_KEYS_FILE points; and no
GANSERVE_* variable that Settings does not read. Its values.schema.json refuses a
misspelt or impossible value instead of letting the templates ignore it.

All offline, with no helm binary and no cluster: helm-python-sdk runs Helm's own Go SDK."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from ganserve.settings import REPO_ROOT, Settings

CHART = REPO_ROOT / "deploy" / "helm" / "ganserve"
KUBE_VERSION = kubernetes_validate.utils.major_minor(kubernetes_validate.utils.latest_version())
NAMESPACE = "serving"
CACHE_URL = "redis://cache.example.internal:6379/0"
STORE_URL = "rediss://store.example.internal:6380/0"
KEYS_JSON = json.dumps([{"id": "3lV0aG8x1b2Q", "name": "ops", "scopes": ["admin"], "secret_sha256": "0" * 64, "created": 0}])
METRICS_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}

# Everything optional switched on, so that every template renders in at least one profile.
EXTERNAL = {
    "redis": {"cache": {"externalUrl": CACHE_URL}, "store": {"externalUrl": STORE_URL}},
    "modelRepository": {"persistentVolumeClaim": {"enabled": True}},
    "gateway": {"models": {"fromRepositoryVolume": True}, "autoscaling": {"enabled": True}, "env": {"GANSERVE_MAX_IMAGES": 8}},
    "triton": {"autoscaling": {"enabled": True}},
    "worker": {"replicas": 3, "jobs": 2, "env": {"GANSERVE_PROJECTION_STALE_S": 120}},
    "apiKeys": {"keysJson": KEYS_JSON},
    "networkPolicy": {"metricsFrom": [METRICS_PEER]},
    "monitoring": {"serviceMonitor": {"enabled": True}},
}
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "gpu": yaml.safe_load((CHART / "values-gpu.yaml").read_text()),
    "cpu": yaml.safe_load((CHART / "values-cpu.yaml").read_text()),
    "external": EXTERNAL,
}
WORKLOADS = ("Deployment", "StatefulSet")
GATEWAY, TRITON, WORKER = "gateway", "triton", "worker"
REDIS = ("redis-cache", "redis-store")
TRITON_METRICS_PORT = 8002

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def chart() -> helm.Chart:
    return helm.Chart.load(CHART)


@pytest.fixture(scope="module")
def rendered(chart: helm.Chart) -> dict[str, list[Obj]]:
    """Each profile's objects, rendered once: Helm's Go runtime is the slow part."""
    objects = {}
    for profile, values in PROFILES.items():
        manifests = chart.render(values, name="ganserve", namespace=NAMESPACE, is_install=True)
        objects[profile] = [
            obj for path, text in sorted(manifests.items()) if path.endswith(".yaml") for obj in yaml.safe_load_all(text) if obj
        ]
    return objects


@pytest.fixture(params=PROFILES)
def objects(request: pytest.FixtureRequest, rendered: dict[str, list[Obj]]) -> list[Obj]:
    return rendered[request.param]


def component(obj: Obj) -> str:
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")


def workloads(objects: list[Obj]) -> Iterator[Obj]:
    return (obj for obj in objects if obj["kind"] in WORKLOADS)


def workload(objects: list[Obj], name: str) -> Obj:
    (found,) = [obj for obj in workloads(objects) if component(obj) == name]
    return found


def pod_spec(obj: Obj) -> Obj:
    return obj["spec"]["template"]["spec"]


def containers(obj: Obj, init: bool = True) -> list[Obj]:
    spec = pod_spec(obj)
    return spec["containers"] + (spec.get("initContainers", []) if init else [])


def container(objects: list[Obj], name: str) -> Obj:
    return pod_spec(workload(objects, name))["containers"][0]


def env(c: Obj) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_lints_the_chart_without_warnings(profile: str) -> None:
    report = helm.lint(CHART, PROFILES[profile], strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}.0")
    assert report["errors"] == []
    # Severity 1 is information ("icon is recommended"); 2 is a warning, 3 an error.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize(
    "values",
    [
        {"gateway": {"replica": 3}},
        {"modelRepository": {"target": "trt"}},
        {"redis": {"store": {"externalUrl": "store:6379"}}},
        {"worker": {"device": "gpu"}},
        {"worker": {"jobs": 0}},
        {"worker": {"replica": 2}},
    ],
    ids=["misspelt", "unknown-target", "url-without-scheme", "unknown-worker-device", "no-worker-jobs", "misspelt-worker-value"],
)
def test_values_schema_refuses_values_the_templates_would_ignore(chart: helm.Chart, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name="ganserve", namespace=NAMESPACE)


def test_every_object_is_valid_for_the_api_server(objects: list[Obj]) -> None:
    assert {obj["kind"] for obj in objects} >= {"Deployment", "Service", "PodDisruptionBudget"}
    invalid = []
    for obj in objects:
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            # A custom resource: kubernetes-validate ships no schema for it, so its shape is checked here.
            assert obj["kind"] == "ServiceMonitor"
            assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
            assert obj["spec"]["selector"]["matchLabels"]
            for endpoint in obj["spec"]["endpoints"]:
                assert set(endpoint) <= {"port", "path", "interval"} and endpoint["port"] == "metrics"
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:  # its repr carries the whole schema: keep the message
            invalid.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message} at {'.'.join(map(str, exc.path))}")
    assert invalid == []


def test_every_container_is_bounded_and_unprivileged(objects: list[Obj]) -> None:
    for obj in workloads(objects):
        assert pod_spec(obj)["securityContext"]["runAsNonRoot"] is True
        for c in containers(obj):
            where = f"{obj['metadata']['name']}/{c['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"].get(bound, {})), f"{where}: {bound}"
            context = c["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where


def test_every_server_has_readiness_and_liveness_probes(objects: list[Obj]) -> None:
    servers = [(obj, c) for obj in workloads(objects) for c in containers(obj, init=False) if c.get("ports")]
    assert {component(obj) for obj, _ in servers} >= {GATEWAY}
    for obj, c in servers:
        assert "readinessProbe" in c and "livenessProbe" in c, f"{obj['metadata']['name']}/{c['name']}"


def test_the_gateway_probes_http_and_grpc_health(objects: list[Obj]) -> None:
    gateway = container(objects, GATEWAY)
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # grpc.health.v1 answers for "" (rpc/server.py), which is what a probe without `service` asks.
    assert gateway["startupProbe"]["grpc"] == {"port": 50051}
    assert pod_spec(workload(objects, GATEWAY))["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    writable = {m["mountPath"] for m in gateway["volumeMounts"] if not m.get("readOnly")}
    assert {"/tmp", "/app/var"} <= writable


def test_triton_loads_every_model_explicitly_and_probes_readiness(objects: list[Obj]) -> None:
    if not any(component(obj) == TRITON for obj in workloads(objects)):
        pytest.skip("no in-chart Triton")
    triton = container(objects, TRITON)
    assert triton["args"][0] == "tritonserver"
    assert {"--model-control-mode=explicit", "--load-model=*", "--strict-readiness=true"} <= set(triton["args"])
    assert triton["startupProbe"]["httpGet"]["path"] == triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {p["name"]: p["containerPort"] for p in triton["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}
    assert env(container(objects, GATEWAY))["GANSERVE_TRITON_URL"] == "ganserve-triton:8001"


def test_every_service_selects_pods_that_have_its_ports(objects: list[Obj]) -> None:
    pods = [obj["spec"]["template"] for obj in workloads(objects)]
    for service in of_kind(objects, "Service"):
        matched = [pod for pod in pods if selects(service["spec"]["selector"], pod["metadata"]["labels"])]
        assert matched, f"Service {service['metadata']['name']} selects no pod"
        for pod in matched:
            named = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
            assert {p["targetPort"] for p in service["spec"]["ports"]} <= named


def test_workload_selectors_match_their_pods(objects: list[Obj]) -> None:
    for obj in workloads(objects):
        assert selects(obj["spec"]["selector"]["matchLabels"], obj["spec"]["template"]["metadata"]["labels"])
    for budget in of_kind(objects, "PodDisruptionBudget"):
        assert selects(budget["spec"]["selector"]["matchLabels"], workload(objects, GATEWAY)["spec"]["template"]["metadata"]["labels"])


def test_grpc_is_on_the_gateway_service_and_a_headless_one(objects: list[Obj]) -> None:
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service") if component(s) == GATEWAY}
    assert set(services) == {"ganserve-gateway", "ganserve-gateway-grpc"}
    for service in services.values():
        assert {"name": "grpc", "port": 50051} in [{k: p[k] for k in ("name", "port")} for p in service["spec"]["ports"]]
    headless = services["ganserve-gateway-grpc"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is False
    assert [p["port"] for p in headless["ports"]] == [50051]
    assert {"name": "http", "port": 80, "targetPort": "http"}.items() <= services["ganserve-gateway"]["spec"]["ports"][0].items()


def test_the_gpu_profile_builds_engines_and_runs_on_a_gpu_node(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["gpu"]
    triton = workload(objects, TRITON)
    spec = pod_spec(triton)
    assert container(objects, TRITON)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] and spec["tolerations"]
    assert "--model-repository=/models/tensorrt" in container(objects, TRITON)["args"]
    startup = container(objects, TRITON)["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    init = {c["name"]: c for c in spec["initContainers"]}
    # The scripts `ganserve compile` writes, at the path the copied repository has them.
    assert "/models/tensorrt/build_engines.sh /models" in " ".join(init["build-engines"]["command"])
    assert (REPO_ROOT / "model_repository" / "tensorrt" / "build_engines.sh").is_file()
    assert init["build-engines"]["image"] == container(objects, TRITON)["image"]  # the TensorRT that will load them


def test_the_cpu_profile_serves_onnx_without_a_gpu(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["cpu"]
    assert "nvidia.com/gpu" not in json.dumps(objects)
    assert "--model-repository=/models/onnx" in container(objects, TRITON)["args"]
    assert "initContainers" in pod_spec(workload(objects, TRITON))  # the copy, and no build
    assert [c["name"] for c in pod_spec(workload(objects, TRITON))["initContainers"]] == ["copy-repository"]
    assert any((REPO_ROOT / "model_repository" / "onnx").glob("*/config.pbtxt"))


@pytest.mark.parametrize("profile", ["default", "gpu", "cpu"])
def test_in_chart_redis_store_is_durable_and_cache_evicts(rendered: dict[str, list[Obj]], profile: str) -> None:
    objects = rendered[profile]
    store = workload(objects, "redis-store")
    assert store["kind"] == "StatefulSet"
    args = " ".join(container(objects, "redis-store")["args"])
    assert "--appendonly yes" in args and "--appendfsync always" in args and "--maxmemory-policy noeviction" in args
    (claim,) = store["spec"]["volumeClaimTemplates"]
    assert {m["name"]: m["mountPath"] for m in container(objects, "redis-store")["volumeMounts"]}[claim["metadata"]["name"]] == "/data"
    cache = container(objects, "redis-cache")
    assert workload(objects, "redis-cache")["kind"] == "Deployment"
    cache_args = " ".join(cache["args"])
    assert "--maxmemory-policy allkeys-lru" in cache_args and "--maxmemory 512mb" in cache_args and "--appendonly no" in cache_args
    urls = env(container(objects, GATEWAY))
    assert urls["GANSERVE_REDIS_URL"] == "redis://ganserve-redis-cache:6379/0"
    assert urls["GANSERVE_REDIS_STORE_URL"] == "redis://ganserve-redis-store:6379/0"


def test_external_redis_and_a_pvc_repository(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["external"]
    assert not [obj for obj in objects if component(obj) in REDIS]
    gateway = container(objects, GATEWAY)
    assert env(gateway)["GANSERVE_REDIS_URL"] == CACHE_URL and env(gateway)["GANSERVE_REDIS_STORE_URL"] == STORE_URL
    (claim,) = of_kind(objects, "PersistentVolumeClaim")
    for name in (GATEWAY, TRITON):
        volumes = pod_spec(workload(objects, name))["volumes"]
        assert claim["metadata"]["name"] in [v.get("persistentVolumeClaim", {}).get("claimName") for v in volumes]
    # The gateway reads the models beside the repository Triton serves, never writes them.
    mounts = {m["mountPath"]: m for m in gateway["volumeMounts"]}
    assert mounts["/app/models"]["readOnly"] and mounts["/app/model_repository"]["readOnly"]
    assert "initContainers" not in pod_spec(workload(objects, TRITON))


def test_autoscalers_scale_replica_less_deployments(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["external"]
    scalers = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in of_kind(objects, "HorizontalPodAutoscaler")}
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    assert set(scalers) == {"ganserve-gateway", "ganserve-triton"} and set(scalers) <= set(deployments)
    for name in scalers:
        assert "replicas" not in deployments[name]["spec"]  # else every upgrade resets the HPA's count
    (queue,) = scalers["ganserve-triton"]["spec"]["metrics"]
    assert queue["type"] == "Pods" and queue["pods"]["metric"]["name"] == "triton_queue_duration_us_per_request"
    assert not of_kind(rendered["default"], "HorizontalPodAutoscaler")


def pod_labels(objects: list[Obj], name: str) -> dict[str, str]:
    return workload(objects, name)["spec"]["template"]["metadata"]["labels"]


def test_triton_and_redis_accept_only_gateway_pods(objects: list[Obj]) -> None:
    """And the store also the projection workers (their queue and their saves); the workers accept nothing."""
    policies = {component(p): p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    names = {component(obj) for obj in workloads(objects)}
    guarded = names - {GATEWAY}
    assert guarded and guarded <= set(policies)
    for name in guarded:
        policy = policies[name]
        assert policy["policyTypes"] == ["Ingress"]
        assert selects(policy["podSelector"]["matchLabels"], pod_labels(objects, name))
        # Which of the chart's pods each server admits: the gateways, and to the store the workers too.
        allowed = {GATEWAY, WORKER} & names if name == "redis-store" else {GATEWAY}
        for rule in policy["ingress"]:
            ports = {p["port"] for p in rule["ports"]}
            if ports == {TRITON_METRICS_PORT} and name == TRITON:
                assert rule["from"] == [METRICS_PEER]  # only what networkPolicy.metricsFrom names
                continue
            assert all(set(peer) == {"podSelector"} for peer in rule["from"])
            selectors = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
            admitted = {other for other in names if any(selects(s, pod_labels(objects, other)) for s in selectors)}
            assert admitted == allowed, name
            assert len(rule["from"]) == len(allowed)  # and no peer that selects nothing of the chart's (or anything else)
            served = {p["containerPort"] for p in container(objects, name)["ports"]}
            assert ports <= served
    assert {p["port"] for p in policies[GATEWAY]["ingress"][0]["ports"]} == {8000, 50051}
    assert policies[WORKER]["ingress"] == []  # selected, and no rule: nothing may connect to a worker


def test_the_keys_secret_is_mounted_where_ganserve_keys_file_points(objects: list[Obj]) -> None:
    gateway_pod = workload(objects, GATEWAY)
    gateway = container(objects, GATEWAY)
    keys_file = Path(env(gateway)["GANSERVE_KEYS_FILE"])
    assert keys_file == Path("/etc/ganserve/keys/keys.json")
    (mount,) = [m for m in gateway["volumeMounts"] if m["mountPath"] == str(keys_file.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod_spec(gateway_pod)["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["items"] == [{"key": "keys.json", "path": keys_file.name}]
    assert gateway_pod["spec"]["template"]["metadata"]["annotations"]["checksum/api-keys"]
    secrets = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    if secrets:  # apiKeys.keysJson: the chart's own Secret, holding exactly the records given
        assert json.loads(base64.b64decode(secrets[volume["secret"]["secretName"]]["data"]["keys.json"])) == json.loads(KEYS_JSON)
    else:
        assert volume["secret"]["secretName"] == "ganserve-keys"  # the name docs/kubernetes.md creates


def test_every_ganserve_variable_is_a_setting(objects: list[Obj]) -> None:
    fields = {f"GANSERVE_{name.upper()}" for name in Settings.model_fields}
    names = {e["name"] for obj in workloads(objects) for c in containers(obj) for e in c.get("env", [])}
    ours = {n for n in names if n.startswith("GANSERVE_")}
    assert {"GANSERVE_ENGINE", "GANSERVE_AUTH", "GANSERVE_METRICS_PORT"} <= ours
    projection = {"GANSERVE_PROJECTION_LOCAL_WORKERS", "GANSERVE_PROJECTION_WORKER_JOBS", "GANSERVE_PROJECTION_DEVICE"}
    assert projection <= ours  # the gateway's and the worker's are checked too
    assert ours - fields == set()
    gateway = env(container(objects, GATEWAY))
    assert gateway["GANSERVE_ENGINE"] == "triton" and gateway["GANSERVE_AUTH"] == "keys" and gateway["GANSERVE_HOST"] == "0.0.0.0"
    # A metrics port of its own: Prometheus scrapes without a key.
    assert {p["name"]: p["containerPort"] for p in container(objects, GATEWAY)["ports"]}["metrics"] == int(gateway["GANSERVE_METRICS_PORT"])


def test_every_object_carries_the_helm_labels(objects: list[Obj]) -> None:
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm" and labels["app.kubernetes.io/instance"] == "ganserve"
        assert {"app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/version"} <= set(labels)
        assert obj["metadata"]["name"].startswith("ganserve-") and len(obj["metadata"]["name"]) <= 63


def settings_from(c: Obj, leave_out: tuple[str, ...] = ()) -> Settings:
    """The Settings a container's GANSERVE_* environment makes (values parsed as the process would)."""
    given = {name.removeprefix("GANSERVE_").lower(): value for name, value in env(c).items() if name.startswith("GANSERVE_")}
    return Settings(**{name: value for name, value in given.items() if name not in leave_out})


def test_workers_run_the_gateways_jobs_on_their_store_and_models(objects: list[Obj]) -> None:
    deployment = workload(objects, WORKER)
    assert deployment["kind"] == "Deployment"
    worker, gateway = container(objects, WORKER), container(objects, GATEWAY)
    # The gateways start no projection subprocesses (their image has no torch): the workers run every job.
    assert env(gateway)["GANSERVE_PROJECTION_LOCAL_WORKERS"] == "0"
    assert settings_from(gateway, leave_out=("keys_file",)).projection_local_workers == 0  # the file is in a Secret
    # The queue and the saved latents: the gateways' store, in-chart or external.
    settings = settings_from(worker)
    assert env(worker)["GANSERVE_REDIS_STORE_URL"] == env(gateway)["GANSERVE_REDIS_STORE_URL"] == settings.redis_store_url
    assert str(settings.models_dir) == env(gateway)["GANSERVE_MODELS_DIR"] == "/app/models"
    assert settings.projection_device in ("cpu", "cuda") and settings.projection_worker_jobs >= 1
    # torch's threads bounded by the pod's CPU limit, not every core of the node.
    assert 1 <= settings.threads <= float(worker["resources"]["limits"]["cpu"])
    # `ganserve worker` is the container's main process: its exit is the container's, restarted by the kubelet.
    assert worker["args"] == ["ganserve", "worker"] and "command" not in worker
    assert not worker.get("ports") and not {"readinessProbe", "livenessProbe", "startupProbe"} & set(worker)
    assert not [s for s in of_kind(objects, "Service") if selects(s["spec"]["selector"], pod_labels(objects, WORKER))]
    # The gateway's user and a read-only root, with only /tmp and ~/.cache writable.
    user = pod_spec(deployment)["securityContext"]["runAsUser"]
    assert user == pod_spec(workload(objects, GATEWAY))["securityContext"]["runAsUser"] == 10001
    writable = {m["mountPath"] for m in worker["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp", "/home/ganserve/.cache"}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert all("emptyDir" in volumes[m["name"]] for m in worker["volumeMounts"] if m["mountPath"] in writable)
    # The same models as the gateways: the same volume and folder, or the image built on the gateway's, at its tag.
    assert [m for m in worker["volumeMounts"] if m["mountPath"] == "/app/models"] == [
        m for m in gateway["volumeMounts"] if m["mountPath"] == "/app/models"
    ]
    assert worker["image"].rsplit(":", 1)[1] == gateway["image"].rsplit(":", 1)[1]
    # A stopping worker leaves its job at its next step; a job left behind runs again once stale.
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] >= 10


def test_the_worker_values_reach_the_workers(rendered: dict[str, list[Obj]]) -> None:
    external = rendered["external"]
    assert workload(external, WORKER)["spec"]["replicas"] == 3
    assert settings_from(container(external, WORKER)).projection_worker_jobs == 2
    assert settings_from(container(external, WORKER)).projection_stale_s == 120  # worker.env
    assert workload(rendered["default"], WORKER)["spec"]["replicas"] == 1


def test_gpu_workers_only_in_the_gpu_profile(rendered: dict[str, list[Obj]]) -> None:
    gpu = rendered["gpu"]
    worker = container(gpu, WORKER)
    assert env(worker)["GANSERVE_PROJECTION_DEVICE"] == "cuda"
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == worker["resources"]["requests"]["nvidia.com/gpu"] == 1
    spec = pod_spec(workload(gpu, WORKER))
    assert spec["nodeSelector"] == pod_spec(workload(gpu, TRITON))["nodeSelector"] and spec["tolerations"]
    assert worker["image"].split(":")[0] != container(rendered["default"], WORKER)["image"].split(":")[0]  # CUDA torch, not the CPU wheel
    for profile in ("default", "cpu", "external"):
        worker = container(rendered[profile], WORKER)
        assert env(worker)["GANSERVE_PROJECTION_DEVICE"] == "cpu" and "nvidia.com/gpu" not in json.dumps(worker["resources"])


def test_cuda_workers_without_a_gpu_are_refused(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmError, match="worker.device=cuda needs worker.gpu"):
        chart.render({"worker": {"device": "cuda"}}, name="ganserve", namespace=NAMESPACE)


def test_without_workers_nothing_of_theirs_renders(chart: helm.Chart) -> None:
    manifests = chart.render({"worker": {"enabled": False}}, name="ganserve", namespace=NAMESPACE, is_install=True)
    objects = [obj for path, text in sorted(manifests.items()) if path.endswith(".yaml") for obj in yaml.safe_load_all(text) if obj]
    assert objects and not [obj for obj in objects if component(obj) == WORKER]
    (store_policy,) = [p for p in of_kind(objects, "NetworkPolicy") if component(p) == "redis-store"]
    (rule,) = store_policy["spec"]["ingress"]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]] == [GATEWAY]
    # Still none in the gateways: their image has no torch; workers run elsewhere, on the same store.
    assert env(container(objects, GATEWAY))["GANSERVE_PROJECTION_LOCAL_WORKERS"] == "0"
