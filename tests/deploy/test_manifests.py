"""The deployment files stay deployable, checked offline (no Docker engine, no cluster).

- Kubernetes: `kubectl kustomize` renders each overlay; every object passes the API's
  JSON schema (strict: unknown fields fail) and the platform's own invariants.
- Compose: docker-compose.yml passes the schemas of both tools a user may run it with:
  Compose v2 (`docker compose`, the Compose specification's schema as vendored by
  check-jsonschema) and docker-compose 1.29 (Debian 12's package, its own schema, vendored
  here); and it agrees with the runtime contract (ports, endpoints, events, one image, one
  database per service).
- The Dockerfile and .dockerignore keep what `pip install .` needs.

Ports come from shared.config and who publishes and consumes what from shared.contracts,
so a new service or subscription that the deployment files miss fails here.
Missing tools skip these tests on a laptop but fail them under CI=true.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.config import DEFAULT_PORTS, EVENT_PORTS
from shared.contracts import SERVICES as CONTRACTS
from shared.contracts import TOPICS

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes release we support and the newest that kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30", "latest")
IMAGE = "zeroshop:latest"
SERVICES = tuple(DEFAULT_PORTS)
# Every service; the gateway runs beside them.
DEPLOYED = (*SERVICES, "gateway")
KEYS_DIR = "/var/lib/zeroshop-keys"  # ZEROSHOP_CURVE_KEYS in compose and Kubernetes
# Services that publish or consume events are writers: an active replica and a standby, no
# HPA. The rest (stateless readers, the gateway) scale with an HPA.
WRITERS = tuple(s for s, c in CONTRACTS.items() if c.publishes or c.consumes)
SCALED = tuple(s for s in DEPLOYED if s not in WRITERS)
READERS = tuple(s for s in SCALED if s != "gateway")  # several pods behind one name
# Services that write files under ZEROSHOP_DATA_DIR even with a PostgreSQL database:
# the `record` senders' logs (services/<name>/senders.py).
WRITES_DATA_DIR = ("email", "sms")
DATABASE_HOST = "postgres"
# Each service serves /metrics on a side port: its RPC port + 4000 (README, "Watching it").
METRICS_PORTS = {s: p + 4000 for s, p in DEFAULT_PORTS.items()}
# Compose services that are not the platform: the database and the observability profile.
NOT_PLATFORM = ("postgres", "prometheus", "grafana")


def publishers_used_by(name: str) -> set[str]:
    """The publishers whose events `name` consumes (the gateway streams every one's)."""
    if name == "gateway":
        return set(EVENT_PORTS)
    return {p for topic in CONTRACTS[name].consumes for p in TOPICS[topic].publishers}


def source_keys(publisher: str) -> tuple[str, str]:
    """A consumer subscribes to the events endpoint and fetches missed events over RPC."""
    return f"{publisher.upper()}_ENDPOINT", f"{publisher.upper()}_EVENTS_ENDPOINT"


def image_data_dir() -> str:
    """ZEROSHOP_DATA_DIR as the Dockerfile sets it."""
    match = re.search(r"\bZEROSHOP_DATA_DIR=(\S+)", (ROOT / "deploy" / "Dockerfile").read_text())
    assert match, "deploy/Dockerfile sets no ZEROSHOP_DATA_DIR"
    return match.group(1)


def require(available: bool, what: str, install: str) -> None:
    """Skip when a tool is missing, except under CI=true, where it is a failure."""
    if available:
        return
    message = f"{what} is not available; install it with: {install}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: deployment checks must not be skipped)")
    pytest.skip(message)


def tcp_port(address: str) -> tuple[str, int]:
    """`tcp://host:5551` (or `dns+tcp://host:5551`, every replica) -> ("host", 5551)."""
    match = re.fullmatch(r"(?:dns\+)?tcp://([^:/]+):(\d+)", address)
    assert match, f"expected tcp://HOST:PORT or dns+tcp://HOST:PORT, got {address!r}"
    return match.group(1), int(match.group(2))


def endpoint_target(key: str) -> tuple[str, dict[str, int]]:
    """`ORDERS_EVENTS_ENDPOINT` -> ("orders", EVENT_PORTS);
    `ORDERS_ENDPOINT` -> ("orders", DEFAULT_PORTS)."""
    if key.endswith("_EVENTS_ENDPOINT"):
        return key.removesuffix("_EVENTS_ENDPOINT").lower(), EVENT_PORTS
    return key.removesuffix("_ENDPOINT").lower(), DEFAULT_PORTS


def created_databases(init_sql: Path) -> set[str]:
    return set(re.findall(r"^\s*CREATE DATABASE\s+(\w+)\s*;", init_sql.read_text(),
                          re.IGNORECASE | re.MULTILINE))


def test_the_event_ports_are_those_of_the_publishers():
    """The deployment invariants below read EVENT_PORTS; it must match the contracts."""
    assert set(EVENT_PORTS) == {s for s, c in CONTRACTS.items() if c.publishes}
    assert set(CONTRACTS) == set(DEFAULT_PORTS)


# --------------------------------------------------------------------------- Kubernetes


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """(name, rendered objects) for one overlay, as `kubectl apply -k` would send them."""
    require(shutil.which("kubectl") is not None, "kubectl (for `kubectl kustomize`)",
            "any kubectl >= 1.27 on PATH (kustomize v5); the machine image has one")
    name = request.param
    done = subprocess.run(["kubectl", "kustomize", str(KUSTOMIZE_ROOT / "overlays" / name)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubectl kustomize overlays/{name} failed:\n{done.stderr}"
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert objects, f"overlays/{name} rendered nothing"
    return name, objects


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o["kind"] in ("Deployment", "StatefulSet"))


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    configs = [o for o in objects if o["kind"] == "ConfigMap"
               and o["metadata"]["name"].startswith("zeroshop-config")]
    assert len(configs) == 1, "expected one zeroshop-config ConfigMap"
    return configs[0]


def secret_value(secret: dict[str, Any], key: str) -> str:
    raw = secret.get("stringData", {}).get(key)
    return raw if raw is not None else base64.b64decode(secret["data"][key]).decode()


def selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    return selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def check_service_port(objects: list[dict[str, Any]], host: str, port: int, name: str) -> None:
    """Service `host` exposes `port`, and its selector and targetPort reach the container
    port the pod binds (named `name`)."""
    services = of_kind(objects, "Service")
    deployments = of_kind(objects, "Deployment")
    assert host in services, f"no Service named {host}"
    matching = [p for p in services[host]["spec"]["ports"] if p["port"] == port]
    assert matching, f"Service {host} does not expose port {port}"
    (svc_port,) = matching
    assert svc_port.get("name") == name, f"Service {host} port {port} should be named {name}"
    named = {p.get("name"): p["containerPort"] for p in container_of(deployments[host])["ports"]}
    target = svc_port.get("targetPort", port)
    assert named.get(target, target) == port, f"Service {host} port {port} targets {target}"
    assert selects(services[host]["spec"]["selector"], deployments[host]), \
        f"Service {host} selects no pod"


class TestKubernetesManifests:
    @pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
    def test_every_object_passes_the_kubernetes_schema_strictly(self, overlay, version):
        try:
            import kubernetes_validate
        except ModuleNotFoundError:
            require(False, "kubernetes-validate", "pip install -e '.[dev]'")
        if version == "latest":
            version = kubernetes_validate.latest_version()
        name, objects = overlay
        problems = []
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.path)
                problems.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: "
                                f"{exc.message}")
        assert not problems, (f"overlays/{name} against Kubernetes {version}:\n"
                              + "\n".join(problems))

    def test_everything_lives_in_the_zeroshop_namespace(self, overlay):
        name, objects = overlay
        outside = [f"{o['kind']}/{o['metadata']['name']}" for o in objects
                   if o["kind"] != "Namespace" and o["metadata"].get("namespace") != "zeroshop"]
        assert not outside, f"overlays/{name}: not in namespace zeroshop: {outside}"
        assert "zeroshop" in of_kind(objects, "Namespace")

    def test_each_service_has_its_deployment_and_service_under_its_own_name(self, overlay):
        name, objects = overlay
        for kind in ("Deployment", "Service"):
            missing = set(DEPLOYED) - set(of_kind(objects, kind))
            assert not missing, f"overlays/{name}: no {kind} named {sorted(missing)}"

    def test_the_gateway_and_the_stateless_readers_scale_with_an_hpa(self, overlay):
        name, objects = overlay
        hpas = of_kind(objects, "HorizontalPodAutoscaler")
        deployments = of_kind(objects, "Deployment")
        assert set(hpas) == set(SCALED), f"overlays/{name}: HPAs {sorted(hpas)}"
        for hpa in hpas.values():
            target = hpa["spec"]["scaleTargetRef"]
            assert target == {"apiVersion": "apps/v1", "kind": "Deployment",
                              "name": hpa["metadata"]["name"]}, hpa["metadata"]["name"]
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
            # A fixed count would reset the HPA's on every apply.
            assert "replicas" not in deployments[target["name"]]["spec"], target["name"]

    def test_the_scaled_readers_are_headless_and_named_by_dns_so_every_pod_gets_calls(
            self, overlay):
        name, objects = overlay
        services = of_kind(objects, "Service")
        data = config_map(objects)["data"]
        for reader in READERS:
            assert services[reader]["spec"].get("clusterIP") == "None", \
                f"overlays/{name}: Service {reader} must be headless"
            assert data[f"{reader.upper()}_ENDPOINT"].startswith("dns+tcp://"), reader

    def test_the_writers_run_an_active_and_a_standby_replica_that_roll_one_at_a_time(
            self, overlay):
        name, objects = overlay
        deployments = of_kind(objects, "Deployment")
        services = of_kind(objects, "Service")
        data = config_map(objects)["data"]
        scaled = {h["spec"]["scaleTargetRef"]["name"]
                  for h in of_kind(objects, "HorizontalPodAutoscaler").values()}
        budgets = of_kind(objects, "PodDisruptionBudget").values()
        for service in WRITERS:
            spec = deployments[service]["spec"]
            assert spec.get("replicas") == 2, f"overlays/{name}: {service} replicas"
            # A new pod (a standby) is up before an old one goes: never none of them.
            assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": 1, "maxUnavailable": 0}}, f"overlays/{name}: {service} strategy"
            assert service not in scaled, f"overlays/{name}: {service} has an HPA"
            assert services[service]["spec"].get("clusterIP") == "None", service
            assert data[f"{service.upper()}_ENDPOINT"].startswith("dns+tcp://"), service
            if service in EVENT_PORTS:  # subscribers hear whichever replica is active
                assert data[f"{service.upper()}_EVENTS_ENDPOINT"].startswith("dns+tcp://")
            guarding = [p["spec"] for p in budgets
                        if selects(p["spec"]["selector"]["matchLabels"], deployments[service])]
            # minAvailable 1 would count the standby as the one to keep and could block a
            # drain; maxUnavailable 1 lets one of the two go at a time.
            assert all(g.get("maxUnavailable") == 1 for g in guarding), (service, guarding)
            if name == "prod":
                assert guarding, f"overlays/prod: no PodDisruptionBudget for {service}"

    def test_every_workload_has_probes_resources_and_runs_as_non_root(self, overlay):
        name, objects = overlay
        problems = []
        for wl in workloads(objects):
            where = f"{wl['kind']}/{wl['metadata']['name']}"
            pod = wl["spec"]["template"]["spec"]
            pod_non_root = pod.get("securityContext", {}).get("runAsNonRoot") is True
            for c in pod["containers"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        problems.append(f"{where} container {c['name']}: no {probe}")
                limits = c.get("resources", {})
                for part in ("requests", "limits"):
                    if not {"cpu", "memory"} <= set(limits.get(part, {})):
                        problems.append(f"{where} container {c['name']}: resources.{part} "
                                        "needs cpu and memory")
                non_root = c.get("securityContext", {}).get("runAsNonRoot", pod_non_root)
                if non_root is not True:
                    problems.append(f"{where} container {c['name']}: runAsNonRoot is not true")
                if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where} container {c['name']}: allowPrivilegeEscalation")
        assert not problems, f"overlays/{name}:\n" + "\n".join(problems)

    def test_each_service_runs_its_module_binds_its_ports_and_is_probed_there(self, overlay):
        name, objects = overlay
        deployments = of_kind(objects, "Deployment")
        for service in SERVICES:
            c = container_of(deployments[service])
            port = DEFAULT_PORTS[service]
            assert c["name"] == service
            assert c["command"] == ["python", "-m", f"services.{service}"], service
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            expected = {"rpc": port, "metrics": METRICS_PORTS[service]} | (
                {"events": EVENT_PORTS[service]} if service in EVENT_PORTS else {})
            assert ports == expected, f"{service}: container ports {ports}"
            env = env_of(c)
            bind = env[f"{service.upper()}_BIND"]["value"]
            assert tcp_port(bind) == ("0.0.0.0", port), f"{service}: binds {bind}"
            if service in EVENT_PORTS:
                events = env.get(f"{service.upper()}_EVENTS_BIND", {}).get("value", "")
                assert tcp_port(events) == ("0.0.0.0", EVENT_PORTS[service]), \
                    f"{service}: {service.upper()}_EVENTS_BIND={events!r}"
            ping = ["zeroshop", "ping", service, "--endpoint", f"tcp://127.0.0.1:{port}"]
            for probe in ("readinessProbe", "livenessProbe"):
                assert c[probe]["exec"]["command"] == ping, f"{service} {probe}"
            assert env[f"{service.upper()}_METRICS_PORT"]["value"] == str(METRICS_PORTS[service])
            annotations = deployments[service]["spec"]["template"]["metadata"]["annotations"]
            assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/path":
                                   "/metrics", "prometheus.io/port": str(METRICS_PORTS[service])}
        gw = container_of(deployments["gateway"])
        assert gw["command"] == ["python", "-m", "gateway"]
        assert deployments["gateway"]["spec"]["template"]["metadata"]["annotations"][
            "prometheus.io/port"] == "8080"
        assert config_map(objects)["data"]["ZEROSHOP_METRICS_HOST"] == "0.0.0.0"
        assert env_of(gw)["GATEWAY_HOST"]["value"] == "0.0.0.0"
        assert gw["readinessProbe"]["httpGet"]["path"] in ("/healthz", "/readyz")

    def test_every_endpoint_in_the_config_map_has_a_service_with_that_port(self, overlay):
        name, objects = overlay
        data = config_map(objects)["data"]
        endpoints = {k: v for k, v in data.items() if k.endswith("_ENDPOINT")}
        expected = {f"{s.upper()}_ENDPOINT" for s in SERVICES} | {
            f"{p.upper()}_EVENTS_ENDPOINT" for p in EVENT_PORTS}
        assert set(endpoints) == expected, f"overlays/{name}: ConfigMap endpoints"
        for key, address in endpoints.items():
            host, ports = endpoint_target(key)
            assert tcp_port(address) == (host, ports[host]), f"{key}={address}"
            check_service_port(objects, host, ports[host],
                               "events" if ports is EVENT_PORTS else "rpc")

    def test_every_events_publisher_exposes_its_events_port(self, overlay):
        _, objects = overlay
        for publisher, port in EVENT_PORTS.items():
            check_service_port(objects, publisher, port, "events")

    def test_every_pod_reads_the_config_map_with_the_endpoints_it_needs(self, overlay):
        name, objects = overlay
        config = config_map(objects)
        for dep_name, dep in of_kind(objects, "Deployment").items():
            c = container_of(dep)
            refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
            assert config["metadata"]["name"] in refs, f"overlays/{name}: {dep_name} ConfigMap"
            if dep_name not in DEPLOYED:
                continue
            seen = config["data"].keys() | env_of(c).keys()
            for publisher in publishers_used_by(dep_name):
                for key in source_keys(publisher):
                    assert key in seen, f"overlays/{name}: {dep_name} has no {key}"

    def test_database_urls_come_from_the_secret_and_init_sql_creates_them(self, overlay):
        name, objects = overlay
        secrets = of_kind(objects, "Secret")
        databases = created_databases(KUSTOMIZE_ROOT / "components" / "postgres" / "init.sql")
        for service in SERVICES:
            c = container_of(of_kind(objects, "Deployment")[service])
            key = f"{service.upper()}_DATABASE_URL"
            ref = env_of(c)[key]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "zeroshop-db", "key": key}, f"{service}: {ref}"
            if "zeroshop-db" in secrets:  # dev: in-cluster PostgreSQL made by the overlay
                raw = secret_value(secrets["zeroshop-db"], key)
                url = urlsplit(raw)
                assert url.scheme == "postgresql+psycopg", raw
                assert url.hostname == DATABASE_HOST, raw
                assert url.hostname in of_kind(objects, "Service"), f"{raw}: no such Service"
                assert url.path.lstrip("/") == service, f"{service} must use its own database"
                assert service in databases, f"init.sql does not create {service}"
        if name == "prod":
            assert "zeroshop-db" not in secrets, "prod expects the Secret made out of band"
            assert "postgres" not in of_kind(objects, "StatefulSet")

    def test_services_that_write_under_the_data_dir_have_a_writable_volume_there(self, overlay):
        name, objects = overlay
        deployments = of_kind(objects, "Deployment")
        for service in WRITES_DATA_DIR:
            pod = deployments[service]["spec"]["template"]["spec"]
            c = container_of(deployments[service])
            data_dir = env_of(c).get("ZEROSHOP_DATA_DIR", {}).get("value", image_data_dir())
            if c.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
                continue
            mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == data_dir]
            assert mounts, f"overlays/{name}: {service} writes under {data_dir}, which is on " \
                           "the read-only root file system"
            (mount,) = mounts
            assert not mount.get("readOnly"), f"overlays/{name}: {service} data dir is read-only"
            volume = {v["name"]: v for v in pod["volumes"]}[mount["name"]]
            assert {"emptyDir", "persistentVolumeClaim"} & volume.keys(), volume

    def test_the_postgres_init_scripts_agree(self):
        compose_copy = created_databases(ROOT / "deploy" / "postgres" / "init.sql")
        k8s_copy = created_databases(KUSTOMIZE_ROOT / "components" / "postgres" / "init.sql")
        assert compose_copy == k8s_copy
        assert set(SERVICES) <= compose_copy, sorted(set(SERVICES) - compose_copy)


# --------------------------------------------------------------------------- Compose

COMPOSE_FILE = ROOT / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Compose's `${NAME:-default}` with every variable unset (what CI and a fresh shell see)."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: m.group(2) or "", value)
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()))


JOBS = {"curve-keys"}  # one-shot: runs to completion before the services start


def platform_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items()
            if n not in NOT_PLATFORM and n not in JOBS}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def schema_problems(validator: Any, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(document)]


class TestComposeFile:
    def test_compose_v2_accepts_it(self, compose):
        """`docker compose` validates against the Compose specification's schema."""
        require(_compose_schema() is not None, "the Compose specification schema "
                "(vendored by the check-jsonschema package)", "pip install check-jsonschema")
        import jsonschema

        validator = jsonschema.Draft202012Validator(_compose_schema(),
                                                    format_checker=jsonschema.FormatChecker())
        problems = schema_problems(validator, compose)
        assert not problems, "docker-compose.yml:\n" + "\n".join(problems)

    def test_docker_compose_1_29_accepts_it(self, compose):
        """docker-compose 1.29 validates as its compose/config/validation.py does: its own
        schema with Draft 4, its `ports` and `expose` formats, then each service's
        constraints. It knows no top-level `name:`, so the file must not have one."""
        import jsonschema

        schema = json.loads(COMPOSE_1_29_SCHEMA.read_text())
        formats = jsonschema.FormatChecker(())
        formats.checks("ports")(lambda v: bool(_PORTS_1_29.match(str(v))))
        formats.checks("expose")(lambda v: not isinstance(v, str)
                                 or bool(re.match(r"^\d+(\-\d+)?(\/[a-zA-Z]+)?$", v)))
        problems = schema_problems(jsonschema.Draft4Validator(schema, format_checker=formats),
                                   compose)
        constraints = jsonschema.Draft4Validator(schema["definitions"]["constraints"]["service"])
        problems += [f"services/{name}: {p}" for name, service in compose["services"].items()
                     for p in schema_problems(constraints, service)]
        assert not problems, "docker-compose.yml:\n" + "\n".join(problems)

    def test_the_platform_services_are_all_there_under_their_own_names(self, compose):
        assert set(platform_services(compose)) == set(DEPLOYED)
        for name in SERVICES:
            service = compose["services"][name]
            assert service["command"] == ["python", "-m", f"services.{name}"], name
        assert compose["services"]["gateway"]["command"] == ["python", "-m", "gateway"]

    def test_every_service_uses_the_one_image_and_build(self, compose):
        builds = set()
        for name, service in {**platform_services(compose),
                              **{j: compose["services"][j] for j in JOBS}}.items():
            assert service.get("image") == IMAGE, f"{name} must use {IMAGE}"
            builds.add(json.dumps(service.get("build"), sort_keys=True))
        (build,) = builds
        build = json.loads(build)
        assert (ROOT / build["context"] / build["dockerfile"]).is_file(), build

    def test_every_service_binds_and_exposes_its_ports(self, compose):
        for name in SERVICES:
            service = compose["services"][name]
            env = environment(service)
            exposed = set(map(str, service.get("expose", [])))
            bind = env.get(f"{name.upper()}_BIND", "")
            assert tcp_port(bind) == ("0.0.0.0", DEFAULT_PORTS[name]), f"{name}: binds {bind!r}"
            assert str(DEFAULT_PORTS[name]) in exposed, f"{name} does not expose its RPC port"
            if name in EVENT_PORTS:
                events = env.get(f"{name.upper()}_EVENTS_BIND", "")
                assert tcp_port(events) == ("0.0.0.0", EVENT_PORTS[name]), \
                    f"{name}: {name.upper()}_EVENTS_BIND={events!r}"
                assert str(EVENT_PORTS[name]) in exposed, f"{name} does not expose its events"
            assert env[f"{name.upper()}_METRICS_PORT"] == str(METRICS_PORTS[name]), name
            assert str(METRICS_PORTS[name]) in exposed, f"{name} does not expose its metrics"
            assert env["ZEROSHOP_METRICS_HOST"] == "0.0.0.0", name

    def test_every_endpoint_points_at_a_compose_service_and_its_port(self, compose):
        services = compose["services"]
        for name, service in platform_services(compose).items():
            for key, address in environment(service).items():
                if not key.endswith("_ENDPOINT"):
                    continue
                host, ports = endpoint_target(key)
                assert host in services, f"{name}: {key}={address}: no compose service {host}"
                assert tcp_port(address) == (host, ports[host]), f"{name}: {key}={address}"
                bind_key = f"{host.upper()}_EVENTS_BIND" if ports is EVENT_PORTS \
                    else f"{host.upper()}_BIND"
                bind = environment(services[host]).get(bind_key)
                assert bind and tcp_port(bind)[1] == ports[host], f"{host}: {bind_key}={bind}"
                assert str(ports[host]) in map(str, services[host].get("expose", [])), host

    def test_every_endpoint_is_named_by_dns_so_scaled_replicas_all_get_calls(self, compose):
        for name, service in platform_services(compose).items():
            for key, address in environment(service).items():
                if key.endswith("_ENDPOINT"):
                    assert address.startswith("dns+tcp://"), f"{name}: {key}={address}"

    def test_every_consumer_and_the_gateway_know_the_publishers_they_use(self, compose):
        gateway = environment(compose["services"]["gateway"])
        for service in SERVICES:
            assert f"{service.upper()}_ENDPOINT" in gateway, f"gateway has no {service} endpoint"
        for name in DEPLOYED:
            env = environment(compose["services"][name])
            for publisher in publishers_used_by(name):
                for key in source_keys(publisher):
                    assert key in env, f"{name} consumes {publisher}'s events but has no {key}"

    def test_every_database_url_names_a_database_init_sql_creates(self, compose):
        databases = created_databases(ROOT / "deploy" / "postgres" / "init.sql")
        mounted = [v for v in compose["services"]["postgres"]["volumes"]
                   if isinstance(v, str) and v.startswith("./deploy/postgres/init.sql:")]
        assert mounted and "/docker-entrypoint-initdb.d/" in mounted[0]
        for service in platform_services(compose).values():
            for key, value in environment(service).items():
                if key.endswith("_DATABASE_URL"):
                    url = urlsplit(value)
                    assert url.path.lstrip("/") in databases, f"init.sql does not create {value}"
        for name in SERVICES:
            service = compose["services"][name]
            url = urlsplit(environment(service)[f"{name.upper()}_DATABASE_URL"])
            assert url.scheme == "postgresql+psycopg", f"{name}: {url.geturl()}"
            assert url.hostname == DATABASE_HOST and url.port == 5432, url.geturl()
            assert url.path.lstrip("/") == name, f"{name} must use its own database"
            assert name in databases, f"init.sql does not create {name}"
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name

    def test_services_that_write_under_the_data_dir_can(self, compose):
        for name in WRITES_DATA_DIR:
            service = compose["services"][name]
            assert not service.get("read_only"), f"{name} writes under ZEROSHOP_DATA_DIR"
            data_dir = environment(service).get("ZEROSHOP_DATA_DIR", image_data_dir())
            targets = [v.split(":")[1] if isinstance(v, str) else v["target"]
                       for v in service.get("volumes", [])]
            assert data_dir in targets, f"{name}: no volume on {data_dir}; the record log " \
                                        "would go with the container"

    def test_every_service_has_a_healthcheck_and_a_restart_policy(self, compose):
        for name, service in compose["services"].items():
            if name in JOBS:
                assert service.get("restart") == "on-failure", name
                continue
            assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
            assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
        for name in SERVICES:
            test = compose["services"][name]["healthcheck"]["test"]
            assert test == ["CMD", "zeroshop", "ping", name, "--endpoint",
                            f"tcp://127.0.0.1:{DEFAULT_PORTS[name]}"], name
        assert compose["services"]["gateway"]["depends_on"]["product"]["condition"] \
            == "service_healthy"


# compose/config/compose_spec.json of docker-compose 1.29.2 (Apache-2.0), as Debian 12's
# `docker-compose` package installs it; and the port syntax its docker SDK accepts.
COMPOSE_1_29_SCHEMA = Path(__file__).with_name("docker-compose-1.29.2-schema.json")
_PORTS_1_29 = re.compile(r"^((\[[0-9a-fA-F:]+\]|[0-9.]+):)?(\d+(-\d+)?:)?\d+(-\d+)?"
                         r"(/(tcp|udp|sctp))?$")


def _compose_schema() -> dict[str, Any] | None:
    """The Compose specification's JSON schema, as vendored (and kept current) by
    check-jsonschema, so the test needs no network."""
    try:
        from importlib.resources import files

        schema = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
        return json.loads(schema.read_text())
    except (ModuleNotFoundError, FileNotFoundError):
        return None


# --------------------------------------------------------------------------- Dockerfile


class TestDockerfile:
    dockerfile = ROOT / "deploy" / "Dockerfile"

    def instructions(self) -> list[tuple[str, str]]:
        text = self.dockerfile.read_text().replace("\\\n", " ")
        lines = [ln.strip() for ln in text.splitlines()]
        return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines
                if ln and not ln.startswith("#")]

    def test_one_slim_image_running_the_gateway_as_a_non_root_user(self):
        steps = self.instructions()
        froms = [arg for op, arg in steps if op == "FROM"]
        assert froms and all(f.split()[0] == "python:3.11-slim" for f in froms), froms
        final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
        users = [arg for op, arg in final if op == "USER"]
        assert users and users[-1].split(":")[0] not in ("root", "0"), users
        assert users[-1].split(":")[0].isdigit(), "a numeric USER lets runAsNonRoot verify it"
        (cmd,) = [json.loads(arg) for op, arg in final if op == "CMD"]
        assert cmd == ["python", "-m", "gateway"]
        installs = [arg for op, arg in steps if op == "RUN" and "pip install" in arg]
        assert any(re.search(r"pip install\b.*\s'?\.(\[otel\])?'?(\s|$)", a)
                   for a in installs), installs
        assert not any("[dev]" in a or "-e " in a for a in installs), installs

    def test_the_build_context_keeps_what_pip_install_needs(self):
        ignored = {ln.strip().rstrip("/") for ln in (ROOT / ".dockerignore").read_text()
                   .splitlines() if ln.strip() and not ln.startswith("#")}
        for needed in ("pyproject.toml", "shared", "gateway", "services", "README.md"):
            assert needed not in ignored, f".dockerignore must not exclude {needed}"
        for heavy in (".venv", ".git", "var"):
            assert heavy in ignored, f".dockerignore should exclude {heavy}"


# --------------------------------------------------------------------------- Observability

PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"


class TestPrometheusAndGrafana:
    def test_compose_scrapes_the_gateway_and_every_service_where_they_serve(self, compose):
        config = yaml.safe_load((PROMETHEUS / "compose.yml").read_text())
        targets = {t for job in config["scrape_configs"] for c in job["static_configs"]
                   for t in c["targets"]}
        assert targets == {"gateway:8080"} | {f"{s}:{p}" for s, p in METRICS_PORTS.items()}
        for target in targets - {"gateway:8080"}:
            host, port = target.split(":")
            assert port in map(str, compose["services"][host]["expose"]), target

    def test_prometheus_and_grafana_run_only_with_the_observability_profile(self, compose):
        for name in ("prometheus", "grafana"):
            service = compose["services"][name]
            assert service["profiles"] == ["observability"], name
            for volume in service["volumes"]:
                source = volume.split(":", 1)[0]
                if source.startswith("./"):
                    assert (ROOT / source).exists(), f"{name} mounts a missing {source}"

    def test_kubernetes_keeps_the_annotated_pods_of_the_namespace(self):
        (job,) = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())["scrape_configs"]
        (discovery,) = job["kubernetes_sd_configs"]
        assert discovery["role"] == "pod" and discovery["namespaces"]["names"] == ["zeroshop"]
        keep = job["relabel_configs"][0]
        assert keep["action"] == "keep" and keep["source_labels"] == [
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape"]

    def test_the_network_policy_lets_prometheus_reach_the_metrics_ports(self, overlay):
        _, objects = overlay
        (policy,) = of_kind(objects, "NetworkPolicy").values()
        assert {"port": "metrics"} in [p for rule in policy["spec"]["ingress"]
                                       for p in rule.get("ports", [])]

    def test_the_dashboard_reads_the_provisioned_data_source(self):
        dashboard = json.loads((GRAFANA / "zeroshop.json").read_text())
        sources = yaml.safe_load(
            (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
        (source,) = sources["datasources"]
        uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
        assert uids == {source["uid"]} and dashboard["panels"]


class TestCurveIsOnWherePlatformLeavesOneMachine:
    """Compose and Kubernetes run with CURVE: every process gets ZEROSHOP_CURVE_KEYS and the
    keys there (compose: the curve-keys job's volume; Kubernetes: the Secret)."""

    def test_every_compose_service_has_the_keys_before_it_starts(self, compose):
        for name, service in platform_services(compose).items():
            assert environment(service).get("ZEROSHOP_CURVE_KEYS") == KEYS_DIR, name
            assert f"curve-keys:{KEYS_DIR}:ro" in service.get("volumes", []), name
            assert service["depends_on"]["curve-keys"]["condition"] \
                == "service_completed_successfully", name
        job = compose["services"]["curve-keys"]
        assert job["command"][:3] == ["zeroshop", "keys", "generate"]
        assert "--if-missing" in job["command"]

    def test_every_pod_mounts_the_keys_secret_where_the_config_says(self, overlay):
        _, objects = overlay
        assert config_map(objects)["data"]["ZEROSHOP_CURVE_KEYS"] == KEYS_DIR
        for deployment in of_kind(objects, "Deployment").values():
            name = deployment["metadata"]["name"]
            if name not in DEPLOYED:
                continue
            spec = deployment["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert volumes["curve-keys"]["secret"]["secretName"] == "zeroshop-curve-keys", name
            mounts = {m["name"]: m for m in container_of(deployment)["volumeMounts"]}
            assert mounts["curve-keys"]["mountPath"] == KEYS_DIR, name
            assert mounts["curve-keys"]["readOnly"] is True, name
