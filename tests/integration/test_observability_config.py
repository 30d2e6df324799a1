"""deploy/observability/ as Prometheus and Grafana take it: promtool accepts the scrape config and the
rules, the alerts' unit tests pass, and every query of the rules and the dashboard names a metric the
services really export."""

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any, Final

import yaml
from prometheus_client import REGISTRY

from shared.services import REPO_ROOT, SERVICES

OBSERVABILITY: Final = REPO_ROOT / "deploy" / "observability"
# Series Prometheus makes itself for every target.
PROMETHEUS_SERIES: Final = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
KEYWORDS: Final = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
)
SUFFIXES: Final = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def run_promtool(*args: str) -> str:
    assert shutil.which("promtool"), "promtool is missing: apt-get install -y prometheus (./dev test does)"
    done = subprocess.run(["promtool", *args], cwd=OBSERVABILITY, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_scrape_config_and_its_rules() -> None:
    assert "SUCCESS" in run_promtool("check", "config", "prometheus.yml")
    assert "SUCCESS" in run_promtool("check", "rules", "alerts.yml")


def test_the_alerts_fire_on_the_series_that_should_raise_them_and_only_then() -> None:
    assert "SUCCESS" in run_promtool("test", "rules", "alerts_test.yml")


def test_prometheus_scrapes_every_service_where_dev_run_starts_it() -> None:
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {spec.name: [f"127.0.0.1:{spec.http_port}"] for spec in SERVICES}


def exported_metrics() -> set[str]:
    """Every series name the four services can put on /metrics: the metrics their modules define."""
    for spec in SERVICES:
        importlib.import_module(f"services.{spec.name}.__main__")
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers, ranges,
    grouping clauses, functions, keywords and numbers are taken out."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for found in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", expr):
        is_function = expr[found.end() :].lstrip().startswith("(")
        if not is_function and found.group() not in KEYWORDS:
            names.add(found.group())
    return names


def rules() -> Iterator[dict[str, Any]]:
    for group in yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]:
        yield from group["rules"]


def test_every_rule_and_dashboard_query_reads_metrics_the_services_export() -> None:
    known = exported_metrics() | PROMETHEUS_SERIES | {rule["record"] for rule in rules() if "record" in rule}
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    queries = [rule["expr"] for rule in rules()] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    read = set().union(*(metric_names(query) for query in queries))
    assert read - known == set()
    # What the README's list promises is on a panel or in an alert.
    for name in (
        "kafka_consumer_lag_messages",
        "events_consumed_total",
        "dlq_messages_written_total",
        "outbox_oldest_pending_age_seconds",
        "webhook_endpoint_failing_seconds",
        "service_ready",
    ):
        assert name in read


def test_the_dashboard_is_a_grafana_dashboard_of_prometheus_panels() -> None:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["type"] == "prometheus"
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["targets"]
        assert all(target["expr"].strip() for target in panel["targets"])
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])


def test_the_query_reader_finds_metric_names_and_nothing_else() -> None:
    assert metric_names('sum by (job, le) (rate(http_request_duration_seconds_bucket{job=~"a|b"}[5m])) > 0.5') == {
        "http_request_duration_seconds_bucket"
    }
    assert metric_names("a:b:sum > 100 and deriv(a:b:sum[10m]) > 0 or on (x) up == 0") == {"a:b:sum", "up"}
