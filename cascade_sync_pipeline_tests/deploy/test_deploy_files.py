"""The Kubernetes deployment on paper (Dockerfile, .dockerignore, deploy/): what can be checked without a
cluster, a Docker engine or Helm.

Every YAML file parses; the Helm values carry the run queue's per-workspace limit and the K8sRunLauncher;
the pieces that must agree do (the config path each pod is given and the path the ConfigMap is mounted
at, the Secret names, the PVC, the receiver's port, probes, health route and body limit); the example
config is one the product accepts; the Secret holds placeholders only; the image takes the product
without the sandbox; and the image's entry point, run here with this virtualenv, serves the code
location and answers Dagster's gRPC health check.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cascade_sync_pipeline.config import WarehouseSettings, load_config, parse_config
from cascade_sync_pipeline.config_rules import read_yaml
from cascade_sync_pipeline.orchestration.webhooks import receiver as receiver_module
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox


def _repo_root() -> Path:
    # The tests folder may be nested; the root is the folder whose pyproject.toml is the product's.
    for folder in Path(__file__).resolve().parents:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "cascade-sync-pipeline"' in pyproject.read_text():
            return folder
    raise RuntimeError("repository root (pyproject.toml of cascade-sync-pipeline) not found")


ROOT = _repo_root()
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
VALUES = DEPLOY / "helm" / "values.yaml"
K8S = DEPLOY / "k8s"
CONFIG_KEY = "cascade-sync.yaml"


def _docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _one(path: Path, kind: str, name: str | None = None) -> dict:
    found = [d for d in _docs(path) if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{path.name}: expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def _code_server() -> dict:
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    return deployment


def _run_launcher() -> dict:
    return _values()["runLauncher"]["config"]["k8sRunLauncher"]


def _receiver_pod() -> dict:
    return _one(K8S / "receiver.yaml", "Deployment")["spec"]["template"]["spec"]


def _runner_pod() -> dict:
    return _one(K8S / "runner.yaml", "Deployment")["spec"]["template"]["spec"]


def _example_config() -> dict:
    configmap = _one(K8S / "config.yaml", "ConfigMap", "cascade-sync-config")
    return read_yaml(configmap["data"][CONFIG_KEY], "cascade-sync-config")


def _secret(name: str) -> dict[str, str]:
    return _one(K8S / "config.yaml", "Secret", name)["stringData"]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("#"))
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def _dockerfile_cmd() -> list[str]:
    (cmd,) = [args for instruction, args in _dockerfile_instructions() if instruction == "CMD"]
    return json.loads(cmd)  # exec form: a JSON array


# --- every file parses --------------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses():
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {f.relative_to(DEPLOY).as_posix() for f in files} >= {
        "helm/values.yaml",
        "k8s/receiver.yaml",
        "k8s/runner.yaml",
        "k8s/warehouse-pvc.yaml",
        "k8s/config.yaml",
    }
    for path in files:
        docs = _docs(path)
        assert docs, f"{path} holds no YAML document"
        if path.parent == K8S:
            for doc in docs:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{path}: not a Kubernetes object: {doc}"
    assert isinstance(_example_config(), dict)  # the config file inside the ConfigMap, with the product's parser


# --- the Helm values ------------------------------------------------------------------------------------


def test_helm_values_limit_runs_to_one_per_workspace():
    coordinator = _values()["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True
    assert coordinator["type"] == "QueuedRunCoordinator"
    queue = coordinator["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == 8
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in queue[
        "tagConcurrencyLimits"
    ]
    # The same limit as the instance config the project runs outside Kubernetes.
    instance = yaml.safe_load((ROOT / "config" / "dagster-postgres.yaml").read_text())
    assert instance["run_queue"]["tag_concurrency_limits"] == queue["tagConcurrencyLimits"]


def test_helm_values_launch_runs_as_kubernetes_jobs_with_the_warehouse():
    values = _values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = _run_launcher()
    assert {"name": "cascade-sync-secrets"} in launcher["envSecrets"]
    pvc = _one(K8S / "warehouse-pvc.yaml", "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    (warehouse,) = [v for v in launcher["volumes"] if "persistentVolumeClaim" in v]
    assert warehouse["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"] == "cascade-sync-warehouse"
    (mount,) = [m for m in launcher["volumeMounts"] if m["name"] == warehouse["name"]]
    assert mount["mountPath"] == "/data" and not mount.get("readOnly")
    # The example config keeps its warehouse on that volume.
    assert Path(_example_config()["warehouse"]["path"]).is_relative_to(mount["mountPath"])
    # The code server does not hold the warehouse, and does not pass its own pod settings on to runs.
    code_server = _code_server()
    assert all("persistentVolumeClaim" not in v for v in code_server.get("volumes", []))
    assert code_server["includeConfigInLaunchedRuns"] == {"enabled": False}


def test_helm_values_use_an_external_postgresql_with_the_password_from_a_secret():
    values = _values()
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlHost"]
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["generatePostgresqlPasswordSecret"] is False
    secret_name = values["global"]["postgresqlSecretName"]
    assert set(_secret(secret_name)) == {"postgresql-password"}  # the key the chart reads


def test_the_code_server_runs_the_image_entry_point_module_and_port():
    cmd = _dockerfile_cmd()
    code_server = _code_server()
    module = cmd[cmd.index("-m") + 1]
    assert code_server["dagsterApiGrpcArgs"] == ["-m", module]
    assert code_server["port"] == int(cmd[cmd.index("-p") + 1]) == 4000
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'code_location_target_module = "{module}"' in pyproject
    health = ["dagster", "api", "grpc-health-check", "-p", str(code_server["port"])]
    assert code_server["startupProbe"]["exec"]["command"] == health
    # Without an exec the chart's readiness probe is that same command; with one, the chart would copy the
    # whole block, `enabled` included, into the pod spec.
    assert code_server["readinessProbe"]["enabled"] is True and "exec" not in code_server["readinessProbe"]
    assert {"name": "cascade-sync-secrets"} in code_server["envSecrets"]


def test_every_pod_is_told_the_config_path_where_the_configmap_is_mounted():
    def mounted_config_paths(volumes: list[dict], mounts: list[dict]) -> set[str]:
        names = {v["name"] for v in volumes if v.get("configMap", {}).get("name") == "cascade-sync-config"}
        return {f"{m['mountPath'].rstrip('/')}/{CONFIG_KEY}" for m in mounts if m["name"] in names}

    code_server = _code_server()
    told = {e["name"]: e.get("value") for e in code_server["env"]}
    assert told["CASCADE_SYNC_CONFIG"] in mounted_config_paths(code_server["volumes"], code_server["volumeMounts"])

    launcher = _run_launcher()
    run_env = dict(item.split("=", 1) for item in launcher["envVars"])
    assert run_env["CASCADE_SYNC_CONFIG"] in mounted_config_paths(launcher["volumes"], launcher["volumeMounts"])

    for pod in (_receiver_pod(), _runner_pod()):
        (container,) = pod["containers"]
        pod_env = {e["name"]: e.get("value") for e in container["env"]}
        assert pod_env["CASCADE_SYNC_CONFIG"] in mounted_config_paths(pod["volumes"], container["volumeMounts"])


def test_the_webhook_inbox_comes_from_the_secret_as_a_postgresql_url():
    secrets = _secret("cascade-sync-secrets")
    assert secrets["CASCADE_SYNC_WEBHOOK_INBOX"].startswith("postgresql://")
    (receiver,), (runner,) = _receiver_pod()["containers"], _runner_pod()["containers"]
    for env in (_code_server()["env"], receiver["env"], runner["env"]):
        (inbox,) = [e for e in env if e["name"] == "CASCADE_SYNC_WEBHOOK_INBOX"]
        assert inbox["valueFrom"]["secretKeyRef"] == {
            "name": "cascade-sync-secrets",
            "key": "CASCADE_SYNC_WEBHOOK_INBOX",
        }


# --- the example config and the Secret's shape -------------------------------------------------------------


def test_the_secret_holds_placeholders_only_and_every_variable_the_config_names():
    for name in ("cascade-sync-secrets", "cascade-sync-postgresql"):
        for key, value in _secret(name).items():
            assert "PLACEHOLDER" in value, f"Secret {name}, key {key}: not a placeholder; never commit a real secret"
    config = _example_config()
    named = {config["cascade"]["token_env"]}
    for ws in config["workspaces"]:
        named |= {ws["token_env"], ws["webhook_secret_env"]}
    assert named <= set(_secret("cascade-sync-secrets"))


def test_the_example_config_is_valid_apart_from_the_warehouse_layout():
    config = _example_config()
    assert config["warehouse"].pop("layout") == "per_workspace"
    parsed = parse_config(config, "deploy/k8s/config.yaml")
    assert [ws.key for ws in parsed.workspaces] == ["acme-eng", "acme-delivery"]


@pytest.mark.skipif(
    "layout" not in WarehouseSettings.model_fields,
    reason="this checkout's config model has no warehouse.layout yet (per-workspace warehouse files)",
)
def test_the_example_config_is_valid_with_the_per_workspace_layout():
    parse_config(_example_config(), "deploy/k8s/config.yaml")


# --- the receiver ----------------------------------------------------------------------------------------


def test_the_receiver_deployment_serves_what_the_service_and_ingress_expect(tmp_path):
    deployment = _one(K8S / "receiver.yaml", "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == shlex.split("cascade-sync webhooks serve --host 0.0.0.0 --port 8710")
    assert container["image"] == "{repository}:{tag}".format(**_code_server()["image"])  # the same image
    (port,) = container["ports"]
    assert port["containerPort"] == 8710
    assert container["resources"]["requests"] and container["resources"]["limits"]

    # The probes ask a route the receiver really serves.
    probes = [container[p] for p in ("startupProbe", "readinessProbe", "livenessProbe")]
    paths = {p["httpGet"]["path"] for p in probes}
    assert {p["httpGet"]["port"] for p in probes} == {port["name"]}
    config = load_config(ROOT / "config" / "sandbox.yaml")
    app = receiver_module.create_receiver_app(config, WebhookInbox(tmp_path / "inbox.sqlite"))
    for path in paths:
        assert app.test_client().get(path).status_code == 200, path

    service = _one(K8S / "receiver.yaml", "Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]

    ingress = _one(K8S / "receiver.yaml", "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert [t["secretName"] for t in ingress["spec"]["tls"]] == ["cascade-sync-webhooks-tls"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
    backends = [p["backend"]["service"] for p in rule["http"]["paths"]]
    assert all(b["name"] == service["metadata"]["name"] and b["port"]["name"] == service_port["name"] for b in backends)
    assert "/webhooks/" in [p["path"] for p in rule["http"]["paths"]]


def test_the_ingress_body_limit_is_the_receivers():
    annotations = _one(K8S / "receiver.yaml", "Ingress")["metadata"]["annotations"]
    size = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    nginx_bytes = int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]  # nginx's units
    assert nginx_bytes == receiver_module.MAX_BODY_BYTES == 5 * 1024 * 1024


# --- the image --------------------------------------------------------------------------------------------


def test_the_dockerfile_installs_the_product_alone():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copied = [src for instruction, args in instructions if instruction in {"COPY", "ADD"} for src in args.split()[:-1]]
    assert copied, "the Dockerfile copies nothing"
    assert not [src for src in copied if src.startswith("--")], "COPY --from/--chown are not expected here"
    assert not [src for src in copied if src.rstrip("/") in {"", "."} or Path(src).parts[0] in {"sandbox", ".."}]
    assert set(copied) <= {"pyproject.toml", "README.md", "requirements.lock", "cascade_sync_pipeline/"}
    runs = " ".join(args for instruction, args in instructions if instruction == "RUN")
    assert "pip install --no-cache-dir -c requirements.lock ." in runs
    assert "sandbox" not in runs
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}

    # The .dockerignore lets in exactly what is copied: the sandbox cannot reach the build context.
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    assert ignore[0] == "*"
    assert {line[1:] for line in ignore if line.startswith("!")} == set(copied)


def test_the_dagster_libraries_match_the_pinned_dagster():
    lock = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line)
    _major, minor, patch = lock["dagster"].split(".")
    libraries = f"0.{int(minor) + 16}.{patch}"  # Dagster releases core 1.x.y with libraries 0.(x+16).y
    runs = " ".join(args for instruction, args in _dockerfile_instructions() if instruction == "RUN")
    for library in ("dagster-postgres", "dagster-k8s"):
        assert f"{library}=={libraries}" in runs.split()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_image_entry_point_serves_the_code_location(tmp_path):
    """The Dockerfile's CMD, run with this virtualenv on loopback, loads the code location (a load error
    makes `dagster api grpc` exit) and answers `dagster api grpc-health-check`."""
    cmd = _dockerfile_cmd()
    assert cmd[:3] == ["dagster", "api", "grpc"]
    port = _free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    args = [dagster, *cmd[1:]]
    args[args.index("-h") + 1] = "127.0.0.1"
    args[args.index("-p") + 1] = str(port)
    env = {
        **os.environ,
        "CASCADE_SYNC_CONFIG": str(ROOT / "config" / "sandbox.yaml"),
        "DAGSTER_HOME": str(tmp_path),
    }
    log = tmp_path / "grpc.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            args, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (
                f"`{' '.join(cmd)}` exited with {server.returncode}:\n{log.read_text()[-3000:]}"
            )
            check = subprocess.run(
                [dagster, "api", "grpc-health-check", "-p", str(port)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if check.returncode == 0:
                break
            assert time.monotonic() < deadline, f"no healthy gRPC server after 180 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        assert server.poll() is None
    finally:
        # SIGTERM (Dagster maps it to SIGINT's handler), then SIGKILL if the server has not stopped.
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            if server.poll() is not None:
                break
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                break
            try:
                server.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass


def test_the_live_runner_gets_what_a_run_pod_gets_and_the_charts_instance():
    """It executes runs itself: the run launcher's Secret, warehouse volume and resources, the image of the
    receiver, and the instance config the chart writes for the release deploy/README.md installs."""
    pod, launcher = _runner_pod(), _run_launcher()
    (container,) = pod["containers"]
    (receiver,) = _receiver_pod()["containers"]
    assert container["image"] == receiver["image"]
    assert container["command"] == ["cascade-sync", "webhooks", "run"]
    assert {"secretRef": {"name": "cascade-sync-secrets"}} in container["envFrom"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v
    }
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (launcher_mount,) = [
        m
        for m in launcher["volumeMounts"]
        if m["name"] in {v["name"] for v in launcher["volumes"]}
        and "persistentVolumeClaim" in next(v for v in launcher["volumes"] if v["name"] == m["name"])
    ]
    assert {mounts[name] for name, claim in claims.items() if claim == "cascade-sync-warehouse"} == {
        launcher_mount["mountPath"]
    }
    assert container["resources"] == launcher["resources"]
    env = {e["name"]: e for e in container["env"]}
    (instance,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name", "").endswith("-dagster-instance")]
    assert instance["configMap"]["name"] == "cascade-sync-dagster-instance"  # release cascade-sync, chart dagster
    chart_home = _values()["global"].get("dagsterHome", "/opt/dagster/dagster_home")  # the chart's default
    assert mounts[instance["name"]] == env["DAGSTER_HOME"]["value"] == chart_home
    password = env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": _values()["global"]["postgresqlSecretName"], "key": "postgresql-password"}
    assert "helm upgrade --install cascade-sync dagster/dagster" in (DEPLOY / "README.md").read_text()
