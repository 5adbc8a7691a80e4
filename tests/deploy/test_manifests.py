"""The deployment files agree with each other and with the service: the Dockerfile, compose file,
nginx config and Kubernetes manifests (test_docker_ci.py runs the first three for real)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from service.settings import Settings
from tests.service.helpers import ROOT

K8S = ROOT / "deploy" / "k8s"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)$", text, re.M)
    assert [s for _, s in stages] == ["build", "venv-cpu", "venv-gpu", "runtime-base", "gpu",
                                      "runtime"]  # the default target is the last: CPU
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert {b for b, _ in stages} == {"${BASE_IMAGE}", "build", "runtime-base"}
    for arg in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST"):
        assert f"ARG {arg}" in text
    assert "--mount=type=secret,id=pip_ca,required=false" in text
    assert "PIP_NO_CACHE_DIR=1" in text and "'.[gpu]'" in text
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/health/ready", text, re.M)
    assert 'ENTRYPOINT ["/usr/local/bin/tini", "--"]' in text and 'CMD ["gradserve"]' in text
    # the final stages copy a virtual environment, never the sources or a compiler
    final = text[text.index("AS runtime-base"):]
    assert "apt-get" not in final and "pip install" not in final and "COPY engine" not in final


def test_dockerignore_sends_only_what_the_image_installs() -> None:
    lines = (ROOT / ".dockerignore").read_text().split("\n")
    assert "*" in lines
    assert {x for x in lines if x.startswith("!")} == {
        "!pyproject.toml", "!setup.py", "!README.md", "!engine/", "!service/", "!examples/"}


def test_compose() -> None:
    doc = load(ROOT / "docker-compose.yml")
    services = doc["services"]
    api, gpu, lb = services["api"], services["api-gpu"], services["lb"]
    assert "profiles" not in api and gpu["profiles"] == ["gpu"] and lb["profiles"] == ["lb"]
    assert api["build"]["target"] == "runtime" and gpu["build"]["target"] == "gpu"
    assert api["restart"] == gpu["restart"] == "unless-stopped"
    assert "/health/ready" in " ".join(api["healthcheck"]["test"])
    assert api["deploy"]["resources"]["limits"]["memory"]
    env = api["environment"]
    assert env["GRADSERVE_HOST"] == "0.0.0.0" and env["GRADSERVE_PORT"] == "8000"
    assert "GRADSERVE_WORKERS" in env
    for name in env:
        assert name[len("GRADSERVE_"):].lower() in Settings.model_fields, name
    shutdown = float(re.sub(r"\$\{\w+:-(.*)\}", r"\1", env["GRADSERVE_SHUTDOWN_TIMEOUT"]))
    assert int(api["stop_grace_period"].rstrip("s")) > shutdown
    assert gpu["environment"]["GRADSERVE_BACKEND"] == "cupy"
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    (volume,) = lb["volumes"]
    source = volume.split(":")[0]
    assert (ROOT / source).is_file() and source == "./deploy/nginx/nginx.conf"
    assert lb["depends_on"] == ["api"]


def test_nginx_proxies_to_the_api_service() -> None:
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "listen 8080;" in conf and "set $gradserve http://api:8000;" in conf
    assert "resolver 127.0.0.11" in conf  # Docker's DNS: every replica of `api`
    assert "proxy_set_header X-Request-ID" in conf


def _directives(conf: str) -> dict[str, str]:
    """nginx directives (comments dropped): name -> its arguments, the last one written."""
    found = {}
    for line in conf.splitlines():
        code = line.split("#", 1)[0].strip()
        if code.endswith(";"):
            name, _, args = code[:-1].partition(" ")
            found[name] = args.strip()
    return found


def test_nginx_has_gradserves_connection_limits_and_never_retries_a_sent_post() -> None:
    from service.settings import Settings

    d = _directives((ROOT / "deploy" / "nginx" / "nginx.conf").read_text())
    s = Settings()
    # a POST that reached a replica may be running there: retried only on connect errors
    assert d["proxy_next_upstream"] == "error timeout"
    assert "non_idempotent" not in d["proxy_next_upstream"]
    count, size = d["large_client_header_buffers"].split()
    assert int(size.removesuffix("k")) * 1024 == s.max_url_bytes
    assert int(count) * int(size.removesuffix("k")) * 1024 == s.max_header_bytes
    assert d["client_header_timeout"] == f"{s.header_timeout:g}s"
    assert d["client_body_timeout"] == f"{s.body_timeout:g}s"
    assert d["keepalive_timeout"] == f"{s.idle_timeout:g}s"
    assert d["worker_connections"] == str(s.max_connections)


def test_kubernetes_manifests() -> None:
    kustomization = load(K8S / "kustomization.yaml")
    docs = {p: load(K8S / p) for p in kustomization["resources"]}
    kinds = {d["kind"]: d for d in docs.values()}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler",
                          "PodDisruptionBudget"}
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert kinds["Service"]["spec"]["selector"] == labels
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    requests = container["resources"]["requests"]
    assert requests["cpu"] and requests["memory"] and container["resources"]["limits"]["memory"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert int(env["GRADSERVE_WORKERS"]) == int(container["resources"]["limits"]["cpu"])
    prestop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["spec"]["terminationGracePeriodSeconds"] > \
        prestop + float(env["GRADSERVE_SHUTDOWN_TIMEOUT"] or 0)
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001  # the image's user
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"]
    hpa = kinds["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
