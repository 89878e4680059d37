"""The shipped Prometheus rules and Grafana dashboard only reference series the server really exports,
with label names the server really uses: a renamed metric breaks this test, not an operator's night."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from server.metrics import LABEL_VALUES, metric_names

INFRA = Path(__file__).resolve().parents[2] / "infra"
PROMETHEUS_OWN = {"up"}  # recorded by Prometheus itself for every scrape target
TARGET_LABELS = {"job", "instance", "le"}  # attached by Prometheus (job, instance) or histograms (le)
_SERIES = re.compile(r"\b((?:confidant|process)_[a-z0-9_]+|up)\b(?!\s*\()")
_MATCHER = re.compile(r"\{([^}]*)\}")
_LABEL = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def _exprs_from_rules() -> list[str]:
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _exprs_from_dashboard() -> list[str]:
    dashboard = json.loads((INFRA / "grafana" / "confidant-dashboard.json").read_text())
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} shows nothing"
        exprs.extend(target["expr"] for target in panel["targets"])
    return exprs


def _check(exprs: list[str]) -> set[str]:
    exported = metric_names() | PROMETHEUS_OWN
    labels = set(LABEL_VALUES) | TARGET_LABELS
    used: set[str] = set()
    for expr in exprs:
        names = set(_SERIES.findall(expr))
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} references {sorted(names - exported)}, not exported"
        used |= names
        for matcher in _MATCHER.findall(expr):
            assert set(_LABEL.findall(matcher)) <= labels, f"unknown label in {expr!r}"
        for grouping in _GROUPING.findall(expr):
            grouped = {g.strip() for g in grouping.split(",") if g.strip()}
            assert grouped <= labels, f"unknown label in {expr!r}"
    return used


def test_alert_rules_reference_exported_metrics() -> None:
    used = _check(_exprs_from_rules())
    for needed in ("confidant_envelopes_delivered_total", "confidant_mailbox_oldest_age_seconds",
                   "confidant_http_requests_total", "confidant_dependency_up"):
        assert needed in used  # no delivery, backlog age, error rate, dependency down


def test_alert_rules_are_complete() -> None:
    rules: dict[str, Any] = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    for rule in rules["groups"][0]["rules"]:
        assert rule["alert"].startswith("Confidant")
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]


def test_scrape_config_loads_the_rules() -> None:
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    job = config["scrape_configs"][0]
    assert (job["job_name"], job["metrics_path"]) == ("confidant", "/metrics")
    # The nodes' metrics listener, not the public port the proxy forwards.
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    env = compose["x-node"]["environment"]
    port = env["CONFIDANT_METRICS_PORT"]
    assert port != env["CONFIDANT_PORT"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets and all(t.endswith(f":{port}") for t in targets), targets


def test_dashboard_references_exported_metrics() -> None:
    used = _check(_exprs_from_dashboard())
    for needed in ("confidant_envelopes_accepted_total", "confidant_delivery_latency_seconds_bucket",
                   "confidant_mailbox_backlog_envelopes", "confidant_connected_devices",
                   "confidant_dependency_up", "confidant_signaling_sessions"):
        assert needed in used


def _stages(dockerfile: str) -> list[list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile)
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_image_builds_the_web_client_and_every_node_serves_it() -> None:
    """No Docker engine here: the Dockerfile is checked by construction. A node stage builds the client
    from the repository's web-client/ with npm ci + vite build; the final stage copies its dist/ and points
    CONFIDANT_WEB_ROOT at it; compose builds every node from this file with the repository as context."""
    repo = INFRA.parent
    web, relay = _stages((INFRA / "Dockerfile").read_text())
    assert re.fullmatch(r"FROM node:(\d+)(-slim)? AS web", web[0]), web[0]
    assert int(re.findall(r"node:(\d+)", web[0])[0]) >= 20  # vite needs Node 20.19+ (scripts/build-web.sh)
    assert "RUN npm ci --no-audit --no-fund --loglevel=error" in web
    assert web.index("COPY web-client/ ./") < web.index("RUN npm run build")
    package = json.loads((repo / "web-client" / "package.json").read_text())
    assert package["scripts"]["build"].startswith("vite")
    copy_dist = [i for i in relay if i.startswith("COPY --from=web ")]
    assert copy_dist == ["COPY --from=web /web-client/dist /app/web"]
    assert "ENV CONFIDANT_WEB_ROOT=/app/web" in relay
    assert relay[-1] == 'CMD ["confidant", "serve"]'
    for instruction in (*web, *relay):  # every source copied from the context exists in the repository
        if instruction.startswith("COPY ") and "--from=" not in instruction:
            for source in instruction.split()[1:-1]:
                assert (repo / source).exists(), instruction
    ignored = (repo / ".dockerignore").read_text().split()
    assert {"**/node_modules", "web-client/dist", ".venv"} <= set(ignored)  # the host's builds stay out

    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    build = compose["x-node"]["build"]
    assert (build["context"], build["dockerfile"]) == ("..", "infra/Dockerfile")
    nodes = [name for name, svc in compose["services"].items() if svc.get("build") == build]
    assert nodes == ["confidant-1", "confidant-2"]
    assert "CONFIDANT_WEB_ROOT" not in compose["x-node"]["environment"]  # the image's own dist/ is used
