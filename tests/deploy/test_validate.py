"""Offline validation of deploy/: the real tree passes, and deliberately broken inputs make the validator fail."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from streamflow.config import load_config

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "validate" / "validate.py"
_spec = importlib.util.spec_from_file_location("deploy_validate", SCRIPT)
assert _spec and _spec.loader
V = importlib.util.module_from_spec(_spec)
sys.modules["deploy_validate"] = V
_spec.loader.exec_module(V)

from checks.budget import (  # noqa: E402
    BUDGET_KEYS,
    allocatable,
    budget_report,
    check_budget,
    cpu,
    flink_mem,
    manifest_usage,
    mem,
    totals,
    usage,
)
from checks.helm import check_airflow_values, check_prometheus_stack_values  # noqa: E402
from checks.manifests import FLINK_ENTRY_POINTS, check_manifests, semantic_errors, validate_manifest  # noqa: E402
from checks.metrics import check_metrics, dashboard_exprs, jmx_metric_names, known_metrics, metric_names, rule_exprs  # noqa: E402
from checks.rendered import GENERATED_DASHBOARDS, GENERATED_TOPICS, check_rendered  # noqa: E402
from checks.supply import check_docker, check_vendored, check_workflows  # noqa: E402
from checks.terraform import _module_calls, check_hcl, check_manifest_modules, terraform_k8s_files  # noqa: E402

SCHEMAS = ROOT / "deploy" / "schemas"


def docs_of(rel_path: str) -> list[dict]:
    return list(yaml.safe_load_all((ROOT / rel_path).read_text()))


def one(rel_path: str, kind: str, name: str | None = None) -> dict:
    found = [d for d in docs_of(rel_path) if d and d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (rel_path, kind, name)
    return copy.deepcopy(found[0])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    "A copy of everything the validator reads (schemas symlinked: they are large and read-only)."
    skip = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "lib", ".terragrunt-cache")
    for d in ("config", "streamflow", "sql", "nbs", "dags", "data", ".github", "requirements"):
        if (ROOT / d).is_dir():
            shutil.copytree(ROOT / d, tmp_path / d, ignore=skip)
    for f in ("settings.ini", "setup.py", "pyproject.toml"):
        shutil.copy(ROOT / f, tmp_path / f)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("schemas", "lib", "__pycache__"))
    (tmp_path / "deploy" / "schemas").symlink_to(SCHEMAS, target_is_directory=True)
    return tmp_path


# ------------------------------------------------------------------ the committed tree
@pytest.fixture(scope="module")
def results() -> dict:
    return V.run_all(ROOT)


@pytest.mark.parametrize("check", list(V.CHECKS))
def test_committed_tree_passes(results, check):
    assert results[check] == [], "\n".join(map(str, results[check]))


def test_cli_exit_codes(tree):
    "`make` calls the script: exit 0 on the real tree, 1 once one manifest is broken."
    ok = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tree)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    p = tree / "deploy" / "k8s" / "flink" / "fraud-detector.yaml"
    p.write_text(p.read_text().replace("parallelism: 1\n", "parallelism: two\n"))
    bad = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tree)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "fraud-detector" in bad.stdout and "job.parallelism" in bad.stdout


# ------------------------------------------------------------------ broken manifests
JOBS = ("transaction-processor", "fraud-detector", "realtime-aggregator")


def flink_docs() -> list[dict]:
    return [d for n in ("session-cluster", *JOBS) for d in docs_of(f"deploy/k8s/flink/{n}.yaml") if d]


def test_flink_wrong_field_type_fails():
    d = one("deploy/k8s/flink/fraud-detector.yaml", "FlinkSessionJob")
    assert validate_manifest(d, SCHEMAS) == []
    d["spec"]["job"]["parallelism"] = "two"
    errs = validate_manifest(d, SCHEMAS)
    assert any(e.startswith("spec.job.parallelism") for e in errs), errs
    d = one("deploy/k8s/flink/fraud-detector.yaml", "FlinkSessionJob")
    d["spec"]["job"]["upgradeMode"] = "snapshot"
    assert any("upgradeMode" in e for e in validate_manifest(d, SCHEMAS))
    d = one("deploy/k8s/flink/fraud-detector.yaml", "FlinkSessionJob")
    d["spec"]["clusterId"] = "streamflow-flink"  # FLIP-215's draft name of deploymentName: not in the CRD
    assert any("clusterId" in e for e in validate_manifest(d, SCHEMAS))


def test_flink_version_and_conventions():
    c = one("deploy/k8s/flink/session-cluster.yaml", "FlinkDeployment")
    assert c["spec"]["flinkVersion"] == "v2_2" and "job" not in c["spec"]  # a session cluster
    assert validate_manifest(c, SCHEMAS) == [] and semantic_errors(c, flink_docs()) == []
    c["spec"]["flinkVersion"] = "v2_9"
    assert any("flinkVersion" in e for e in validate_manifest(c, SCHEMAS))
    c = one("deploy/k8s/flink/session-cluster.yaml", "FlinkDeployment")
    c["spec"]["flinkConfiguration"]["taskmanager.numberOfTaskSlots"] = 3
    c["spec"]["flinkConfiguration"]["python.execution-mode"] = "process"
    del c["spec"]["flinkConfiguration"]["high-availability.type"]
    del c["spec"]["flinkConfiguration"]["classloader.parent-first-patterns.additional"]
    errs = semantic_errors(c, [c])
    assert any("numberOfTaskSlots" in e for e in errs) and any("thread" in e for e in errs)
    assert any("HA" in e for e in errs) and any("pemja." in e for e in errs)
    d = one("deploy/k8s/flink/realtime-aggregator.yaml", "FlinkSessionJob")
    d["spec"]["job"]["args"] = ["-pym", "streamflow.jobs.nope", "--cluster"]
    d["spec"]["flinkConfiguration"]["kubernetes.operator.savepoint.history.max.count"] = 5
    errs = semantic_errors(d, flink_docs())
    assert any("spec.job.args" in e for e in errs) and any("history.max.count" in e for e in errs)


def test_flink_jobs_match_entry_points():
    modules = {one(f"deploy/k8s/flink/{n}.yaml", "FlinkSessionJob")["spec"]["job"]["args"][1] for n in JOBS}
    assert modules == set(FLINK_ENTRY_POINTS)
    for module in modules:  # each one is a real module with the main() the operator's PythonDriver runs
        spec = importlib.util.find_spec(module)
        assert spec and spec.origin and "def main(" in Path(spec.origin).read_text(), module
    d = one("deploy/k8s/flink/transaction-processor.yaml", "FlinkSessionJob")
    assert d["spec"]["job"]["args"][-1] == "--cluster"
    d["spec"]["job"]["args"] = d["spec"]["job"]["args"][:2]  # without --cluster main() would build a MiniCluster
    assert any("spec.job.args" in e for e in semantic_errors(d, flink_docs()))


def test_session_jobs_target_the_session_cluster():
    docs = flink_docs()
    jobs = [d for d in docs if d["kind"] == "FlinkSessionJob"]
    assert len(jobs) == 3 and {j["spec"]["deploymentName"] for j in jobs} == {"streamflow-flink"}
    assert all(semantic_errors(j, docs) == [] for j in jobs)
    d = copy.deepcopy(jobs[0])
    d["spec"]["deploymentName"] = "fraud-cluster"  # no such FlinkDeployment
    assert any("no FlinkDeployment" in e for e in semantic_errors(d, docs))
    d = copy.deepcopy(jobs[0])
    d["spec"]["job"]["jarURI"] = "local:///opt/flink/opt/flink-python-2.2.1.jar"  # the operator cannot fetch local://
    d["spec"]["job"]["upgradeMode"] = "stateless"
    del d["spec"]["flinkConfiguration"]["execution.checkpointing.savepoint-dir"]
    errs = semantic_errors(d, docs)
    assert any("jarURI" in e for e in errs) and any("savepoint" in e for e in errs)
    assert any("savepoint-dir" in e for e in errs)
    d = copy.deepcopy(jobs[1])  # two jobs must not share a checkpoint directory
    d["spec"]["flinkConfiguration"]["execution.checkpointing.dir"] = \
        jobs[0]["spec"]["flinkConfiguration"]["execution.checkpointing.dir"]
    assert any("its own execution.checkpointing.dir" in e for e in semantic_errors(d, [x for x in docs if x is not jobs[1]] + [d]))
    app = copy.deepcopy(next(x for x in docs if x["kind"] == "FlinkDeployment"))
    app["spec"]["job"] = {"jarURI": "local:///opt/flink/opt/flink-python-2.2.1.jar", **jobs[0]["spec"]["job"]}
    assert any("application cluster" in e for e in semantic_errors(jobs[0], [app] + jobs))


def test_kafkatopic_partitions_as_string_fails():
    t = docs_of("deploy/k8s/kafka/topics.yaml")[0]
    assert validate_manifest(t, SCHEMAS) == []
    t["spec"]["partitions"] = "3"
    assert any(e.startswith("spec.partitions") for e in validate_manifest(t, SCHEMAS))


def test_strimzi_v1beta2_is_not_served_by_strimzi_1x():
    k = one("deploy/k8s/kafka/kafka.yaml", "Kafka")
    k["apiVersion"] = "kafka.strimzi.io/v1beta2"
    errs = validate_manifest(k, SCHEMAS)
    assert errs and "not served" in errs[0]


def test_unknown_crd_field_fails_strictly():
    k = one("deploy/k8s/kafka/kafka.yaml", "Kafka")
    k["spec"]["kafka"]["replicas"] = 1  # v1 moved replicas to KafkaNodePool
    assert any("replicas" in e for e in validate_manifest(k, SCHEMAS))


def test_deployment_missing_containers_fails():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "streamflow-data"},
           "spec": {"selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    assert validate_manifest(dep, SCHEMAS) == []
    del dep["spec"]["template"]["spec"]["containers"]
    errs = validate_manifest(dep, SCHEMAS)
    assert errs and "containers" in errs[0]


def test_core_kind_unknown_field_and_unknown_kind_fail():
    pvc = one("deploy/k8s/flink/state-pvc.yaml", "PersistentVolumeClaim")
    assert validate_manifest(pvc, SCHEMAS) == []
    pvc["spec"]["acessModes"] = pvc["spec"].pop("accessModes")
    assert validate_manifest(pvc, SCHEMAS)
    assert "no schema" in validate_manifest({"apiVersion": "example.com/v1", "kind": "Gadget"}, SCHEMAS)[0]


def test_cnpg_and_monitoring_resources_validate_and_fail_when_broken():
    c = one("deploy/k8s/postgres/cluster.yaml", "Cluster")
    roles = {r["name"]: r for r in c["spec"]["managed"]["roles"]}
    # the owner runs the migrations without being a superuser; the client roles are the migrations' (issue 18)
    assert roles["streamflow_owner"]["superuser"] is False and roles["streamflow_owner"]["createrole"] is True
    assert not {"streamflow_writer", "streamflow_transform", "streamflow_reader"} & set(roles)
    assert c["spec"]["enableSuperuserAccess"] is False
    c["spec"]["instances"] = "one"
    assert any(e.startswith("spec.instances") for e in validate_manifest(c, SCHEMAS))
    sb = one("deploy/k8s/postgres/cluster.yaml", "ScheduledBackup")
    sb["spec"]["method"] = "tape"
    assert any("spec.method" in e for e in validate_manifest(sb, SCHEMAS))
    rule = one("deploy/k8s/monitoring/prometheusrule.yaml", "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    assert validate_manifest(rule, SCHEMAS)
    store = one("deploy/k8s/postgres/backup-store.yaml", "ObjectStore")
    del store["spec"]["configuration"]["destinationPath"]
    assert any("destinationPath" in e for e in validate_manifest(store, SCHEMAS))


def test_yaml_that_does_not_parse_is_reported(tree):
    (tree / "deploy" / "k8s" / "kafka" / "broken.yaml").write_text("kind: [unclosed\n")
    findings = check_manifests(tree)
    assert any(f.where == "parse" and "broken.yaml" in f.path for f in findings)


def test_wrong_namespace_is_reported(tree):
    p = tree / "deploy" / "k8s" / "kafka" / "kafka.yaml"
    p.write_text(p.read_text().replace("namespace: streamflow-kafka", "namespace: default", 1))
    assert any("namespace" in f.message for f in check_manifests(tree))


# ------------------------------------------------------------------ topics: one source of truth
def test_topics_are_generated_from_config():
    topics = load_config(root=ROOT, environ={}).kafka.topics
    manifests = {d["spec"]["topicName"]: d for d in docs_of("deploy/k8s/kafka/topics.yaml")}
    expected = [getattr(topics, k) for k in ("transactions", "alerts", "metrics", "dlq", "control", "scored", "shadow")]
    assert set(manifests) == {t.name for t in expected}
    for t in expected:
        spec = manifests[t.name]["spec"]
        assert spec["partitions"] == t.partitions
        assert spec["config"]["cleanup.policy"] == t.cleanup_policy
        assert spec["config"].get("retention.ms") == t.retention_ms
        assert manifests[t.name]["metadata"]["labels"]["strimzi.io/cluster"] == "streamflow"
    assert manifests["fraud.control"]["spec"]["config"]["cleanup.policy"] == "compact"


def test_topics_drift_from_config_is_caught(tree):
    assert check_rendered(tree) == []
    cfg = tree / "config" / "default.yaml"
    cfg.write_text(cfg.read_text().replace("partitions: 3", "partitions: 6", 1))
    findings = check_rendered(tree)
    assert [f.path for f in findings] == [str(GENERATED_TOPICS)]
    assert V.main(["--root", str(tree), "--render"]) == 0  # re-rendering fixes it
    assert {d["spec"]["topicName"]: d["spec"]["partitions"] for d in
            yaml.safe_load_all((tree / GENERATED_TOPICS).read_text())}["transactions.raw"] == 6


# ------------------------------------------------------------------ dashboards and metric names
def test_metric_names_parser():
    assert metric_names('sum by (topic) (rate(kafka_server_brokertopicmetrics_messagesin_total{topic="a.b"}[5m]))') \
        == {"kafka_server_brokertopicmetrics_messagesin_total"}
    assert metric_names("a_total / clamp_min(sum(increase(b_count[1h])), 1) > 0.05") == {"a_total", "b_count"}
    assert metric_names("time() - max(x_ts) > 36 * 3600") == {"x_ts"}
    assert metric_names("sum(rate(m[$__rate_interval])) * 60 and on (job) up == 1") == {"m", "up"}
    assert metric_names('max by (job_name) (f{x=~"a|b"}) < 1 or absent(g) unless h offset 5m') == {"f", "g", "h"}


def test_four_dashboards_in_sidecar_configmaps():
    cms = docs_of(str(GENERATED_DASHBOARDS))
    titles = set()
    for cm in cms:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (body,) = cm["data"].values()
        titles.add(json.loads(body)["title"])
    assert titles == {"StreamFlow / Pipeline Overview", "StreamFlow / Kafka", "StreamFlow / Flink Processing",
                      "StreamFlow / Fraud Monitoring"}


def test_dashboards_use_only_known_metrics():
    known = known_metrics(ROOT)
    used = {n for _, _, e in dashboard_exprs(ROOT) for n in metric_names(e)}
    assert used and used <= set(known), sorted(used - set(known))
    # every exporter feeds at least one dashboard or alert
    used |= {n for _, _, e in rule_exprs(ROOT) for n in metric_names(e)}
    assert {known[n].split(" ")[0] for n in used} >= {"kafka-exporter", "kafka-jmx", "flink-prometheus-reporter",
                                                       "cloudnative-pg", "airflow-statsd-exporter",
                                                       "kubelet-and-kube-state-metrics"}


def test_unknown_dashboard_metric_is_caught(tree):
    p = tree / "deploy" / "k8s" / "monitoring" / "dashboards" / "kafka.json"
    dash = json.loads(p.read_text())
    dash["panels"][0]["targets"][0]["expr"] = "sum(rate(kafka_messages_in_per_sec[5m]))"
    p.write_text(json.dumps(dash))
    findings = check_metrics(tree)
    assert any("kafka_messages_in_per_sec" in f.message for f in findings)


def test_alerts_cover_the_design():
    rule = one("deploy/k8s/monitoring/prometheusrule.yaml", "PrometheusRule")
    exprs = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "> 10000" in exprs["KafkaConsumerLagHigh"] and "kafka_consumergroup_lag" in exprs["KafkaConsumerLagHigh"]
    assert "runningState" in exprs["FlinkJobNotRunning"] and "numRestarts" in exprs["FlinkJobRestarting"]
    assert "0.05" in exprs["FraudRateHigh"] and "[1h]" in exprs["FraudRateHigh"]
    # Airflow 3 has no SLAs: a freshness SLA per DAG on the always-emitted dagrun metric, plus declared deadlines
    sla = exprs["AirflowDagSlaMissed"]
    assert "airflow_dagrun_duration_success_count" in sla and "deadline_missed" in sla
    dags = {p.stem for p in (ROOT / "dags").glob("*.py")}
    assert dags and all(f'{d}' in sla for d in dags), (dags, sla)  # every DAG has a freshness SLA
    assert "0.80" in exprs["PersistentVolumeFillingUp"]
    # local-path volumes report no kubelet_volume_stats: the disk they share is watched instead
    assert "0.80" in exprs["LocalPathDiskFillingUp"] and "node_filesystem_avail_bytes" in exprs["LocalPathDiskFillingUp"]
    # one session cluster: a job that was never submitted has no runningState series, so it is alerted on by name
    assert "< 3" in exprs["FlinkJobMissing"] and "absent(" in exprs["FlinkJobMissing"]
    assert all(j in exprs["FlinkJobMissing"] for j in JOBS)


def test_flink_custom_metric_names_follow_the_reporter_rules():
    "Operator scope + user group 'streamflow' (+ key group 'rule') + counter name, joined by underscores."
    known = known_metrics(ROOT)
    scope = "flink_taskmanager_job_task_operator"
    for counter in ("events_validated", "events_dead_lettered", "alerts_emitted"):
        assert f"{scope}_streamflow_{counter}" in known
    assert f"{scope}_streamflow_rule_rule_hits" in known


def test_airflow_metric_stems_exist_in_airflow_sources():
    "The statsd names the catalog lists are emitted by the installed Airflow (dots become underscores)."
    spec = importlib.util.find_spec("airflow")  # located, not imported (importing Airflow is slow)
    assert spec and spec.submodule_search_locations
    base = Path(list(spec.submodule_search_locations)[0])
    files = ("jobs/scheduler_job_runner.py", "models/deadline.py", "models/dagrun.py", "models/taskinstance.py",
             "sdk/execution_time/task_runner.py")
    src = "\n".join((base / f).read_text() for f in files)
    for stem in ("deadline_alerts.deadline_missed", "scheduler_heartbeat", "ti_failures", "ti_successes"):
        assert stem in src, stem
    assert re.search(r'f"dagrun\.duration\.\{', src)


def test_kafka_jmx_rule_names_are_read_from_the_configmap():
    names = jmx_metric_names(ROOT)
    assert "kafka_server_brokertopicmetrics_messagesin_total" in names
    assert all(re.fullmatch(r"kafka_[a-z_]+", n) for n in names)


# ------------------------------------------------------------------ Helm values, HCL, budget, vendored schemas
def test_airflow_values_schema(tree):
    p = tree / "deploy" / "k8s" / "airflow" / "values.yaml"
    values = yaml.safe_load(p.read_text())
    assert values["executor"] == "LocalExecutor"
    values["scheduler"]["replicas"] = "one"
    values["unknownTopLevel"] = True
    p.write_text(yaml.safe_dump(values))
    findings = check_airflow_values(tree)
    assert any("scheduler.replicas" in f.message for f in findings)
    assert any("unknownTopLevel" in f.message for f in findings)


def test_prometheus_stack_unknown_key(tree):
    p = tree / "deploy" / "k8s" / "helm-values" / "kube-prometheus-stack.yaml"
    p.write_text(p.read_text() + "prometheusOperater: {enabled: true}\n")
    assert [f.where for f in check_prometheus_stack_values(tree)] == ["prometheusOperater"]


def test_hcl_parse_pin_and_order_failures(tree):
    tf = tree / "deploy" / "terraform" / "modules" / "airflow" / "main.tf"
    tf.write_text(tf.read_text().replace('  version    = var.chart_versions["airflow"]\n', ""))
    assert any("pinned" in f.message for f in check_hcl(tree))
    tg = tree / "deploy" / "terraform" / "environments" / "dev" / "monitoring" / "terragrunt.hcl"
    tg.write_text(tg.read_text().replace('"../airflow"', '"../namespaces"'))
    assert any("design order" in f.message for f in check_hcl(tree))
    (tree / "deploy" / "terraform" / "modules" / "monitoring" / "broken.tf").write_text('resource "x" "y" {\n a = \n}\n')
    assert any(f.where == "parse" for f in check_hcl(tree))


def test_budget_is_the_design_budget():
    "The enforced request budget is the design's (issue 7), with a small tolerance and no residual."
    budget = yaml.safe_load((ROOT / "deploy" / "budget.yaml").read_text())
    assert cpu(budget["requests"]["cpu"]) == 1.3 and mem(budget["requests"]["memory"]) == mem("2.7Gi")
    assert 0 <= budget["tolerance"] <= 0.05
    assert set(budget) <= BUDGET_KEYS and "accepted_residual" not in budget
    items, _ = usage(ROOT)
    t = totals(items)
    # the committed tree fits the bare budget: the tolerance is headroom, not used
    assert t["req_cpu"] <= 1.3 and t["req_mem"] <= mem("2.7Gi"), (t["req_cpu"], t["req_mem"] / 2**20)
    _, alloc_mem = allocatable(budget)
    assert t["lim_mem"] <= alloc_mem * budget["memory_limit_overcommit"] <= alloc_mem * 1.25


def test_budget_counts_the_session_cluster():
    items, _ = usage(ROOT)
    by = {u.name: u for u in items}
    # one JobManager and one 3-slot TaskManager for the three parallelism-1 session jobs
    assert by["flink/streamflow-flink/jobmanager"].req_mem == 448 * 2**20
    assert by["flink/streamflow-flink/taskmanager"].req_mem == 768 * 2**20
    assert not any(n.startswith("flink/") and n.split("/")[1] in JOBS for n in by)
    # limit = request x the limit factor (Burstable)
    assert by["flink/streamflow-flink/jobmanager"].lim_mem == 2 * by["flink/streamflow-flink/jobmanager"].req_mem
    assert by["flink/streamflow-flink/taskmanager"].lim_mem == 1.5 * by["flink/streamflow-flink/taskmanager"].req_mem
    docs = flink_docs()
    for d in docs:
        if d["kind"] == "FlinkSessionJob":
            d["spec"]["job"]["parallelism"] = 2  # 6 slots: two TaskManagers
    tms = {u.name: u for u in manifest_usage(docs)}
    assert tms["flink/streamflow-flink/taskmanager x2"].req_mem == 2 * 768 * 2**20
    assert by["kube-prometheus-stack/prometheusOperator.prometheusConfigReloader.resources x2"].count == 2
    # the User Operator serves the KafkaUsers (every client authenticates); no triggerer on purpose (nothing defers)
    assert by["kafka/entity-userOperator"].req_mem == 32 * 2**20 and not any("triggerer" in n for n in by)


def test_budget_violations_fail(tree):
    assert check_budget(tree) == []
    p = tree / "deploy" / "k8s" / "helm-values" / "kube-prometheus-stack.yaml"
    text = p.read_text()
    p.write_text(text.replace("requests: {cpu: 100m, memory: 192Mi}", "requests: {cpu: 100m, memory: 384Mi}"))
    assert [f.where for f in check_budget(tree)] == ["requests.memory"]  # +192 MiB breaks the design budget
    p.write_text(text.replace("requests: {cpu: 100m, memory: 192Mi}", "requests: {cpu: 400m, memory: 192Mi}"))
    assert [f.where for f in check_budget(tree)] == ["requests.cpu"]
    p.write_text(text.replace('limits: {cpu: "1", memory: 640Mi}', 'limits: {cpu: "1", memory: 9Gi}'))
    wheres = {f.where for f in check_budget(tree)}
    assert {"limits.memory", "kube-prometheus-stack/prometheus.prometheusSpec.resources"} <= wheres
    p.write_text(text)
    b = tree / "deploy" / "budget.yaml"
    budget_text = b.read_text()
    b.write_text(budget_text.replace("tolerance: 0.05", "tolerance: 0.5"))
    assert any("tolerance" in f.message for f in V.run_all(tree)["budget"])
    b.write_text(budget_text + "accepted_residual: {memory: 1Gi}\n")  # a residual cannot come back silently
    assert [f.where for f in check_budget(tree)] == ["accepted_residual"]
    b.write_text(budget_text)
    assert check_budget(tree) == []


def test_over_budget_manifest_fails(tree):
    "A manifest that grows past the budget fails, even one the operator sizes (TaskManager process size)."
    sc = tree / "deploy" / "k8s" / "flink" / "session-cluster.yaml"
    sc.write_text(sc.read_text().replace("resource: {cpu: 0.3, memory: 768m}", "resource: {cpu: 0.3, memory: 1024m}"))
    assert [f.where for f in check_budget(tree)] == ["requests.memory"]
    bad = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tree), "--budget"], capture_output=True, text=True)
    assert bad.returncode == 1 and "OVER against the bare design budget" in bad.stdout


def test_switched_off_and_uncounted_components_fail(tree):
    "budget.yaml counts exactly the components the values run."
    v = tree / "deploy" / "k8s" / "airflow" / "values.yaml"
    values = yaml.safe_load(v.read_text())
    values["triggerer"] = {"enabled": True, "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}}}
    v.write_text(yaml.safe_dump(values))
    assert [f.where for f in check_budget(tree)] == ["airflow/triggerer.resources"]
    values["triggerer"] = {"enabled": False}
    values["statsd"]["enabled"] = False
    v.write_text(yaml.safe_dump(values))
    assert [f.where for f in check_budget(tree)] == ["airflow/statsd.resources"]


def test_budget_report_states_the_headroom():
    report = budget_report(ROOT)
    assert "design budget 1.3 CPU / 2.7Gi" in report and "x allocatable" in report
    assert "headroom against the bare design budget" in report and "WARNING" not in report


def test_quantities():
    assert cpu("250m") == 0.25 and cpu(2) == 2.0
    assert mem("512Mi") == 512 * 2**20 and mem("9.7GB") == 9.7e9 and mem("1Gi") == 2**30
    assert flink_mem("768m") == 768 * 2**20


def test_vendored_schema_tamper_is_caught(tmp_path):
    shutil.copytree(SCHEMAS, tmp_path / "deploy" / "schemas")
    assert check_vendored(tmp_path) == []
    f = tmp_path / "deploy" / "schemas" / "airflow-chart" / "1.21.0" / "Chart.yaml"
    f.write_text(f.read_text() + "\n# edited\n")
    assert [x.path for x in check_vendored(tmp_path)] == ["deploy/schemas/airflow-chart/1.21.0/Chart.yaml"]


def test_docker_and_version_consistency_failures(tree):
    assert check_docker(tree) == []
    df = tree / "deploy" / "docker" / "airflow.Dockerfile"
    df.write_text(df.read_text().replace("COPY --chown=airflow:0 sql ", "COPY --chown=airflow:0 sqls "))
    sc = tree / "deploy" / "k8s" / "flink" / "session-cluster.yaml"
    sc.write_text(sc.read_text().replace("streamflow-flink:0", "streamflow-flink:9.9.9-0"))
    fl = tree / "deploy" / "docker" / "flink.Dockerfile"
    fl.write_text(fl.read_text().replace(" && cp /opt/flink/opt/flink-python-2.2.1.jar /opt/flink/lib/ \\\n", ""))
    wheres = {f.where for f in check_docker(tree)}
    assert {"COPY sqls", "spec.image", "flink-python"} <= wheres


def test_flink_python_must_be_copied_not_moved(tree):
    fl = tree / "deploy" / "docker" / "flink.Dockerfile"
    fl.write_text(fl.read_text().replace("&& cp /opt/flink/opt/flink-python", "&& mv /opt/flink/opt/flink-python"))
    msgs = [f.message for f in check_docker(tree) if f.where == "flink-python"]
    assert any("stay in /opt/flink/opt" in m for m in msgs) and any("copied to /opt/flink/lib" in m for m in msgs)


def test_ci_must_run_make_test(tree):
    assert check_workflows(tree) == []
    ci = tree / ".github" / "workflows" / "ci.yaml"
    ci.write_text(ci.read_text().replace("run: make test", "run: pytest"))
    assert [f.where for f in check_workflows(tree)] == ["steps"]


def test_the_terragrunt_download_must_be_checksum_verified(tree):
    wf = tree / ".github" / "workflows" / "deploy.yaml"
    text = wf.read_text()
    assert "sha256sum -c" in text
    wf.write_text(text.replace("sha256sum -c", "sha256sum"))
    assert [f.message for f in check_workflows(tree)] == ["the Terragrunt download must be checksum-verified"]


def test_every_manifest_is_applied_by_terraform(tree):
    applied = terraform_k8s_files(ROOT)
    assert applied["kafka/topics.yaml"] == "strimzi-kafka" and applied["flink/fraud-detector.yaml"] == "flink-operator"
    assert applied["flink/session-cluster.yaml"] == "flink-operator"
    extra = tree / "deploy" / "k8s" / "postgres" / "pooler.yaml"
    extra.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: streamflow-data}\n")
    tf = tree / "deploy" / "terraform" / "modules" / "strimzi-kafka" / "main.tf"
    tf.write_text(tf.read_text().replace('/kafka/topics.yaml"', '/kafka/topic.yaml"'))
    found = {(f.path, f.message) for f in check_hcl(tree)}
    assert ("deploy/k8s/postgres/pooler.yaml", "no Terraform module applies this file") in found
    assert ("deploy/k8s/kafka/topics.yaml", "no Terraform module applies this file") in found
    assert ("deploy/terraform/modules/strimzi-kafka", "reads a deploy/k8s file that does not exist") in found


def test_four_units_apply_their_manifests_through_the_shared_module(tree):
    "strimzi-kafka, flink-operator, cloudnativepg and monitoring each call modules/manifests after their operator."
    modules = ROOT / "deploy" / "terraform" / "modules"
    calls = {tf.parent.name: dict(_module_calls(tf)) for tf in modules.glob("*/main.tf")}
    users = {m for m, c in calls.items() if c}
    assert users == {"strimzi-kafka", "flink-operator", "cloudnativepg", "monitoring"}
    for m in users:
        (body,) = calls[m].values()
        assert any("helm_release." in str(d) for d in body["depends_on"]), m
        assert 'resource "kubectl_manifest"' not in (modules / m / "main.tf").read_text(), m  # no copy of the pattern
    assert check_manifest_modules(tree) == []
    tf = tree / "deploy" / "terraform" / "modules" / "monitoring" / "main.tf"
    tf.write_text(tf.read_text().replace("  depends_on = [helm_release.kube_prometheus_stack]\n", ""))
    assert [f.where for f in check_manifest_modules(tree)] == ["module.manifests"]
    shared = tree / "deploy" / "terraform" / "modules" / "manifests" / "main.tf"
    shared.write_text(shared.read_text() + '\nlocals { extra = file("${var.k8s_dir}/kafka/users.yaml") }\n')
    assert "deploy/terraform/modules/manifests" in {f.path for f in check_manifest_modules(tree)}
    shutil.rmtree(shared.parent)
    assert [f.message for f in check_hcl(tree)] == ["the shared manifests module is missing"]


def _flink_memory(tmp_path: Path, conf: dict, mode: str) -> dict[str, int]:
    "The JVM sizes Flink 2.2's own memory utilities derive from `conf` (what the pods' entrypoints run)."
    pyflink = importlib.util.find_spec("pyflink")
    assert pyflink and pyflink.submodule_search_locations
    home = Path(list(pyflink.submodule_search_locations)[0])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(conf))
    cp = f"{home / 'bin' / 'bash-java-utils.jar'}:{home / 'lib'}/*"
    out = subprocess.run(["java", "-cp", cp, "org.apache.flink.runtime.util.bash.BashJavaUtils", mode,
                          "--configDir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    jvm = next(line for line in out.stdout.splitlines() if line.startswith("BASH_JAVA_UTILS_EXEC_RESULT:-Xmx"))
    return {k: int(v) for k, v in re.findall(r"-(Xmx|XX:MaxMetaspaceSize=|XX:MaxDirectMemorySize=)(\d+)", jvm)}


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JVM (the Kafka and Flink tests need one too)")
def test_flink_memory_model_is_what_flink_derives(tmp_path):
    "Flink 2.2.1 accepts the session cluster's memory settings at the process sizes the budget counts."
    c = one("deploy/k8s/flink/session-cluster.yaml", "FlinkDeployment")
    conf = {k: v for k, v in c["spec"]["flinkConfiguration"].items() if ".memory." in k and not k.startswith("kubernetes.")}
    conf["jobmanager.memory.process.size"] = c["spec"]["jobManager"]["resource"]["memory"]
    conf["taskmanager.memory.process.size"] = c["spec"]["taskManager"]["resource"]["memory"]
    tm = _flink_memory(tmp_path, conf, "GET_TM_RESOURCE_PARAMS")
    jm = _flink_memory(tmp_path, conf, "GET_JM_RESOURCE_PARAMS")
    mib = 2**20
    assert tm["Xmx"] == (64 + 240) * mib and tm["XX:MaxMetaspaceSize="] == 160 * mib  # framework + task heap
    assert tm["XX:MaxDirectMemorySize="] == (64 + 32) * mib  # framework off-heap + network
    assert jm["Xmx"] == 192 * mib and jm["XX:MaxMetaspaceSize="] == 128 * mib
    conf["taskmanager.memory.process.size"] = "512m"  # too small for the fixed parts: Flink refuses it
    with pytest.raises(AssertionError):
        _flink_memory(tmp_path, conf, "GET_TM_RESOURCE_PARAMS")


# ------------------------------------------------------------------ pod security and namespace isolation (issue 18)
def test_pod_specs_must_meet_restricted(tree):
    from checks.security import check_pod_security
    assert check_pod_security(tree) == []
    p = tree / "deploy" / "k8s" / "flink" / "session-cluster.yaml"
    p.write_text(p.read_text().replace("securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}",
                                       "securityContext: {privileged: true}"))
    job = tree / "deploy" / "k8s" / "postgres" / "migrate-job.yaml"
    job.write_text(job.read_text().replace("runAsNonRoot: true, ", ""))
    values = tree / "deploy" / "k8s" / "airflow" / "values.yaml"
    values.write_text(values.read_text().replace("        capabilities: {drop: [ALL]}\n", "", 1))  # the init container
    found = {(f.path, f.message) for f in check_pod_security(tree)}
    assert found == {
        ("deploy/k8s/flink/session-cluster.yaml", "container flink-main-container: allowPrivilegeEscalation must be false"),
        ("deploy/k8s/flink/session-cluster.yaml", "container flink-main-container: capabilities must drop ALL"),
        ("deploy/k8s/flink/session-cluster.yaml", "container flink-main-container: privileged"),
        ("deploy/k8s/postgres/migrate-job.yaml", "securityContext.runAsNonRoot must be true"),
        ("deploy/k8s/airflow/values.yaml", "container auth-passwords: capabilities must drop ALL"),
    }, found


def test_every_namespace_denies_ingress_by_default_and_has_pod_security_labels(tree):
    from checks.security import check_namespace_isolation
    assert check_namespace_isolation(tree) == []
    pols = tree / "deploy" / "k8s" / "namespaces" / "network-policies.yaml"
    docs = [d for d in yaml.safe_load_all(pols.read_text()) if d]
    kept = [d for d in docs if not (d["metadata"]["name"] == "default-deny-ingress"
                                    and d["metadata"]["namespace"] == "streamflow-data")]
    pols.write_text(yaml.safe_dump_all(kept))
    ns = tree / "deploy" / "k8s" / "namespaces" / "namespaces.yaml"
    ns.write_text(ns.read_text().replace("pod-security.kubernetes.io/audit: restricted}", "}", 1))
    found = {(f.where, f.message) for f in check_namespace_isolation(tree)}
    assert found == {("streamflow-data", "no default-deny ingress NetworkPolicy"),
                     ("streamflow-kafka", "pod-security audit must be restricted")}, found


def test_every_kafka_listener_authenticates_under_an_authorizer(tree):
    from checks.security import check_kafka_auth
    assert check_kafka_auth(tree) == []
    k = tree / "deploy" / "k8s" / "kafka" / "kafka.yaml"
    text = k.read_text()
    assert "        authentication:\n          type: scram-sha-512\n" in text and "    authorization:\n      type: simple\n" in text
    k.write_text(text.replace("        authentication:\n          type: scram-sha-512\n", "", 1)
                     .replace("    authorization:\n      type: simple\n", "", 1))
    found = {(f.where, f.message) for f in check_kafka_auth(tree)}
    assert found == {("Kafka/streamflow-kafka/streamflow listener tls", "no authentication: any client that reaches it is anonymous"),
                     ("Kafka/streamflow-kafka/streamflow", "no authorization: every user may do everything")}, found
