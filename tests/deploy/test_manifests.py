"""The deployment files stay deployable, checked offline (no Docker engine, no cluster).

- Kubernetes: `kubectl kustomize` renders each overlay; every object passes the API's
  JSON schema (strict: unknown fields fail) and the platform's own invariants.
- Compose: docker-compose.yml passes the Compose specification's JSON schema (the copy
  vendored by check-jsonschema) and agrees with the runtime contract (ports, endpoints,
  one image, one database per service).
- The Dockerfile and .dockerignore keep what `pip install .` needs.

Missing tools skip these tests on a laptop but fail them under CI=true.
"""

from __future__ import annotations

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

from shared.config import DEFAULT_PORTS, PAGE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes release we support and the newest that kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30", "latest")
IMAGE = "zeroshop:latest"
# The services deployed today (orders, email and sms join later); the gateway runs beside them.
DEPLOYED = (*PAGE_SERVICES, "gateway")
# Objects whose name is the service's own word (STYLE.md, 1).
PER_SERVICE_KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler")


def require(available: bool, what: str, install: str) -> None:
    """Skip when a tool is missing, except under CI=true, where it is a failure."""
    if available:
        return
    message = f"{what} is not available; install it with: {install}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: deployment checks must not be skipped)")
    pytest.skip(message)


def tcp_port(address: str) -> tuple[str, int]:
    """`tcp://host:5551` -> ("host", 5551)."""
    match = re.fullmatch(r"tcp://([^:/]+):(\d+)", address)
    assert match, f"expected tcp://HOST:PORT, got {address!r}"
    return match.group(1), int(match.group(2))


def created_databases(init_sql: Path) -> set[str]:
    return set(re.findall(r"^\s*CREATE DATABASE\s+(\w+)\s*;", init_sql.read_text(),
                          re.IGNORECASE | re.MULTILINE))


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

    def test_each_service_has_its_deployment_service_and_hpa_under_its_own_name(self, overlay):
        name, objects = overlay
        for kind in PER_SERVICE_KINDS:
            missing = set(DEPLOYED) - set(of_kind(objects, kind))
            assert not missing, f"overlays/{name}: no {kind} named {sorted(missing)}"
        for hpa in of_kind(objects, "HorizontalPodAutoscaler").values():
            target = hpa["spec"]["scaleTargetRef"]
            assert target["kind"] == "Deployment"
            assert target["name"] in of_kind(objects, "Deployment"), hpa["metadata"]["name"]
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]

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

    def test_each_service_runs_its_module_binds_its_port_and_is_probed_there(self, overlay):
        name, objects = overlay
        deployments = of_kind(objects, "Deployment")
        for service in PAGE_SERVICES:
            (c,) = deployments[service]["spec"]["template"]["spec"]["containers"]
            port = DEFAULT_PORTS[service]
            assert c["name"] == service
            assert c["command"] == ["python", "-m", f"services.{service}"], service
            assert [p["containerPort"] for p in c["ports"]] == [port], service
            env = env_of(c)
            bind = env[f"{service.upper()}_BIND"]["value"]
            assert tcp_port(bind)[1] == port, f"{service}: binds {bind}, expected port {port}"
            ping = ["zeroshop", "ping", service, "--endpoint", f"tcp://127.0.0.1:{port}"]
            for probe in ("readinessProbe", "livenessProbe"):
                assert c[probe]["exec"]["command"] == ping, f"{service} {probe}"
        (gw,) = deployments["gateway"]["spec"]["template"]["spec"]["containers"]
        assert gw["command"] == ["python", "-m", "gateway"]
        assert env_of(gw)["GATEWAY_HOST"]["value"] == "0.0.0.0"
        assert gw["readinessProbe"]["httpGet"]["path"] in ("/healthz", "/readyz")

    def test_every_endpoint_in_the_config_map_has_a_service_with_that_port(self, overlay):
        name, objects = overlay
        configs = [o for o in objects if o["kind"] == "ConfigMap"
                   and o["metadata"]["name"].startswith("zeroshop-config")]
        assert len(configs) == 1, f"overlays/{name}: expected one zeroshop-config ConfigMap"
        data = configs[0]["data"]
        endpoints = {k: v for k, v in data.items() if k.endswith("_ENDPOINT")}
        assert {f"{s.upper()}_ENDPOINT" for s in PAGE_SERVICES} <= set(endpoints)
        services = of_kind(objects, "Service")
        deployments = of_kind(objects, "Deployment")
        for key, address in endpoints.items():
            host, port = tcp_port(address)
            assert host == key.removesuffix("_ENDPOINT").lower(), f"{key}={address}"
            assert port == DEFAULT_PORTS[host], f"{key}={address}: {host} listens on "\
                                                f"{DEFAULT_PORTS[host]}"
            assert host in services, f"{key}={address}: no Service named {host}"
            (svc_port,) = [p for p in services[host]["spec"]["ports"] if p["port"] == port] or [
                pytest.fail(f"Service {host} does not expose port {port}")]
            # The Service's targetPort must reach the container port the service binds.
            (c,) = deployments[host]["spec"]["template"]["spec"]["containers"]
            named = {p.get("name"): p["containerPort"] for p in c["ports"]}
            target = svc_port.get("targetPort", port)
            assert named.get(target, target) == port, f"Service {host} targets {target}"
            pod_labels = deployments[host]["spec"]["template"]["metadata"]["labels"]
            selector = services[host]["spec"]["selector"]
            assert selector.items() <= pod_labels.items(), f"Service {host} selects no pod"

    def test_every_pod_reads_the_config_map(self, overlay):
        name, objects = overlay
        config = next(o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"
                      and o["metadata"]["name"].startswith("zeroshop-config"))
        for dep_name, dep in of_kind(objects, "Deployment").items():
            (c,) = dep["spec"]["template"]["spec"]["containers"]
            refs = [e["configMapRef"]["name"] for e in c.get("envFrom", [])]
            assert config in refs, f"overlays/{name}: {dep_name} does not read {config}"

    def test_database_urls_come_from_the_secret(self, overlay):
        name, objects = overlay
        secrets = of_kind(objects, "Secret")
        for service in PAGE_SERVICES:
            dep = of_kind(objects, "Deployment")[service]
            (c,) = dep["spec"]["template"]["spec"]["containers"]
            key = f"{service.upper()}_DATABASE_URL"
            ref = env_of(c)[key]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "zeroshop-db", "key": key}, f"{service}: {ref}"
            if "zeroshop-db" in secrets:  # dev: in-cluster PostgreSQL made by the overlay
                secret = secrets["zeroshop-db"]
                raw = secret.get("stringData", {}).get(key)
                if raw is None:
                    import base64

                    raw = base64.b64decode(secret["data"][key]).decode()
                url = urlsplit(raw)
                assert url.scheme == "postgresql+psycopg", raw
                assert url.hostname in of_kind(objects, "Service"), f"{raw}: no such Service"
        if name == "prod":
            assert "zeroshop-db" not in secrets, "prod expects the Secret made out of band"
            assert "postgres" not in of_kind(objects, "StatefulSet")

    def test_the_postgres_init_scripts_agree(self):
        compose_copy = created_databases(ROOT / "deploy" / "postgres" / "init.sql")
        k8s_copy = created_databases(KUSTOMIZE_ROOT / "components" / "postgres" / "init.sql")
        assert compose_copy == k8s_copy
        assert set(PAGE_SERVICES) <= compose_copy


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


def platform_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if n != "postgres"}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


class TestComposeFile:
    def test_it_matches_the_compose_specification(self, compose):
        require(_compose_schema() is not None, "the Compose specification schema "
                "(vendored by the check-jsonschema package)", "pip install check-jsonschema")
        import jsonschema

        validator = jsonschema.Draft202012Validator(_compose_schema(),
                                                    format_checker=jsonschema.FormatChecker())
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                    for e in validator.iter_errors(compose)]
        assert not problems, "docker-compose.yml:\n" + "\n".join(problems)

    def test_the_platform_services_are_all_there_under_their_own_names(self, compose):
        assert set(platform_services(compose)) == set(DEPLOYED)
        for name in PAGE_SERVICES:
            service = compose["services"][name]
            assert service["command"] == ["python", "-m", f"services.{name}"], name
        assert compose["services"]["gateway"]["command"] == ["python", "-m", "gateway"]

    def test_every_service_uses_the_one_image_and_build(self, compose):
        builds = set()
        for name, service in platform_services(compose).items():
            assert service.get("image") == IMAGE, f"{name} must use {IMAGE}"
            builds.add(json.dumps(service.get("build"), sort_keys=True))
        (build,) = builds
        build = json.loads(build)
        assert (ROOT / build["context"] / build["dockerfile"]).is_file(), build

    def test_every_endpoint_points_at_a_compose_service_and_its_port(self, compose):
        services = compose["services"]
        for name, service in platform_services(compose).items():
            for key, address in environment(service).items():
                if not key.endswith("_ENDPOINT"):
                    continue
                host, port = tcp_port(address)
                assert host in services, f"{name}: {key}={address}: no compose service {host}"
                assert port == DEFAULT_PORTS[host], f"{name}: {key}={address}"
                bind = environment(services[host]).get(f"{host.upper()}_BIND")
                assert bind and tcp_port(bind)[1] == port, f"{host} binds {bind}, not {port}"
                assert str(port) in map(str, services[host].get("expose", [])), host
        gateway = environment(compose["services"]["gateway"])
        for service in PAGE_SERVICES:
            assert f"{service.upper()}_ENDPOINT" in gateway, f"gateway has no {service} endpoint"

    def test_every_database_url_names_a_database_init_sql_creates(self, compose):
        databases = created_databases(ROOT / "deploy" / "postgres" / "init.sql")
        mounted = [v for v in compose["services"]["postgres"]["volumes"]
                   if isinstance(v, str) and v.startswith("./deploy/postgres/init.sql:")]
        assert mounted and "/docker-entrypoint-initdb.d/" in mounted[0]
        for name in PAGE_SERVICES:
            service = compose["services"][name]
            url = urlsplit(environment(service)[f"{name.upper()}_DATABASE_URL"])
            assert url.scheme == "postgresql+psycopg", f"{name}: {url.geturl()}"
            assert url.hostname == "postgres" and url.port == 5432, url.geturl()
            assert url.path.lstrip("/") == name, f"{name} must use its own database"
            assert name in databases, f"init.sql does not create {name}"
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name

    def test_every_service_has_a_healthcheck_and_a_restart_policy(self, compose):
        for name, service in compose["services"].items():
            assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
            assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
        for name in PAGE_SERVICES:
            test = compose["services"][name]["healthcheck"]["test"]
            assert test == ["CMD", "zeroshop", "ping", name, "--endpoint",
                            f"tcp://127.0.0.1:{DEFAULT_PORTS[name]}"], name
        assert compose["services"]["gateway"]["depends_on"]["product"]["condition"] \
            == "service_healthy"


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
        assert any(re.search(r"pip install\b.*\s\.(\s|$)", a) for a in installs), installs
        assert not any("[dev]" in a or "-e " in a for a in installs), installs

    def test_the_build_context_keeps_what_pip_install_needs(self):
        ignored = {ln.strip().rstrip("/") for ln in (ROOT / ".dockerignore").read_text()
                   .splitlines() if ln.strip() and not ln.startswith("#")}
        for needed in ("pyproject.toml", "shared", "gateway", "services", "README.md"):
            assert needed not in ignored, f".dockerignore must not exclude {needed}"
        for heavy in (".venv", ".git", "var"):
            assert heavy in ignored, f".dockerignore should exclude {heavy}"
