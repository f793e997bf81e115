"""The chart delivers the observability objects to kube-prometheus-stack: the PrometheusRule is
exactly charts/tinyshop/rules/tinyshop.rules.yaml, every generated dashboard is a ConfigMap with
the label Grafana's sidecar watches (argocd/platform/values/kube-prometheus-stack.yaml), and
the apps export to the collector ArgoCD installs."""

import json

import yaml

from tests.deploy.render import REPO
from tools import dashboards

KPS_VALUES = REPO / "argocd" / "platform" / "values" / "kube-prometheus-stack.yaml"
COLLECTOR_APP = REPO / "argocd" / "apps" / "opentelemetry-collector.yaml"


def _objects(dev: dict[str, list[dict]], kind: str) -> list[dict]:
    return [m for m in dev["tinyshop"] if m["kind"] == kind]


def test_the_prometheus_rule_is_the_rules_file(dev: dict[str, list[dict]]) -> None:
    (rule,) = _objects(dev, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "tinyshop"
    rules_file = REPO / "charts" / "tinyshop" / "rules" / "tinyshop.rules.yaml"
    assert rule["spec"] == yaml.safe_load(rules_file.read_text())


def test_every_dashboard_reaches_grafana_s_sidecar(dev: dict[str, list[dict]]) -> None:
    sidecar = yaml.safe_load(KPS_VALUES.read_text())["grafana"]["sidecar"]["dashboards"]
    label = sidecar.get("label", "grafana_dashboard")  # the chart's default label
    maps = {
        m["metadata"]["name"]: m
        for m in _objects(dev, "ConfigMap")
        if m["metadata"]["name"].startswith("grafana-dashboard-")
    }
    assert sorted(maps) == sorted(f"grafana-dashboard-{b.uid}" for b in dashboards.BOARDS)
    for board in dashboards.BOARDS:
        config_map = maps[f"grafana-dashboard-{board.uid}"]
        assert config_map["metadata"]["labels"][label] == "1"
        assert json.loads(config_map["data"][f"{board.uid}.json"]) == dashboards.build(board)


def test_apps_send_otlp_to_the_collector_argocd_installs(dev: dict[str, list[dict]]) -> None:
    collector = yaml.safe_load(COLLECTOR_APP.read_text())
    namespace = collector["spec"]["destination"]["namespace"]
    expected = f"http://otel-collector.{namespace}.svc:4318"
    for deployment in _objects(dev, "Deployment"):
        env = {
            e["name"]: e.get("value")
            for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == expected, deployment["metadata"]["name"]
        # Port 4318 is OTLP/HTTP; the Functions host's .NET exporter would speak gRPC unless
        # told (the collector's NetworkPolicy opens 4318 only).
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        # Sampled at the head through the standard variables (a trace kept or dropped whole).
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert 0 < float(env["OTEL_TRACES_SAMPLER_ARG"]) <= 1
