"""What the fault tests share: a clean slice of the stack per test, generated events, a background producer, fault
injection (broker, server, jobs), consumer lag, job restarts, and the three checks every fault must pass:
bronze = produced (exactly, by transaction id and by lineage) and the alerts = the offline scorer's.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from streamflow.config import Settings
from streamflow.flink_runtime import JOB_NAMES, flink_run_dir
from streamflow.generator import sidecar_paths, write_events
from streamflow.jobs import runner
from streamflow.kafka_io import control_snapshot, produce_events, publish_blacklist_file, read_topic, topic_offsets
from streamflow.local import flink, kafka, postgres
from streamflow.local.proc import poll
from streamflow.models import Transaction, parse_record
from streamflow.rules import RuleEngine
from streamflow.scoring import score_events
from streamflow.services import up
from streamflow.warehouse import connect

EVENTS = int(os.environ.get("STREAMFLOW_CHAOS_EVENTS", "100000"))  # events per fault test (the issue asks 100,000)
CORE_JOBS = ("transaction-processor", "fraud-detector")  # the jobs behind bronze and the alerts


def timeout_for(n: int) -> float:
    "Seconds to allow `n` events through the jobs: a floor of 100 events/s end to end plus start-up and recovery."
    return 300 + n / 100


# --- a clean slice of the stack -------------------------------------------------------------------------------------

@dataclass
class Slice:
    "The stack as one test sees it: offsets where the test began, per topic and partition."
    cfg: Settings
    start: dict[str, dict[int, int]] = field(default_factory=dict)
    log_marks: dict[str, int] = field(default_factory=dict)  # output file -> its size at the start


def _admin(cfg: Settings):
    from confluent_kafka.admin import AdminClient

    from streamflow.kafka_auth import client_config
    return AdminClient(client_config(cfg, "operator", log_level=0))


end_offsets = topic_offsets  # with no group: the high watermark of every partition of a topic


def job_groups(cfg: Settings, jobs: Iterable[str] = JOB_NAMES) -> dict[str, str]:
    "Job -> the consumer group it reads its input topic with (offsets committed on checkpoints)."
    return {j: f"{cfg.kafka.client_id}-{j}" for j in jobs}


def job_input(cfg: Settings, job: str) -> str:
    "The topic job `job` reads: the aggregator reads the detector's `transactions.scored`, the others `transactions.raw`."
    t = cfg.kafka.topics
    return t.scored.name if job == "realtime-aggregator" else t.transactions.name


def set_group_offsets(cfg: Settings, group: str, topic: str, offsets: dict[int, int]) -> None:
    "Commit `offsets` for `group` on `topic` (the group must be inactive: the Flink source does not join it)."
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p, o) for p, o in offsets.items()])
    admin = _admin(cfg)  # keep a reference until the future resolves (a collected client never answers)
    admin.alter_consumer_group_offsets([req])[group].result(timeout=30)


def committed_offsets(cfg: Settings, group: str, topic: str) -> dict[int, int]:
    "The offsets `group` has committed on `topic` (-1 where it has none)."
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    parts = end_offsets(cfg, topic)
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])
    admin = _admin(cfg)
    res = admin.list_consumer_group_offsets([req])[group].result(timeout=30)
    return {tp.partition: (tp.offset if tp.offset >= 0 else -1) for tp in res.topic_partitions}


def consumer_lag(cfg: Settings, group: str, topic: str, start: dict[int, int] | None = None) -> int:
    "Records of `topic` not yet committed by `group` (high watermark - committed offset, summed over partitions)."
    ends = end_offsets(cfg, topic)
    done = committed_offsets(cfg, group, topic)
    return sum(hi - max(done.get(p, -1), (start or {}).get(p, 0), 0) for p, hi in ends.items())


def reset(cfg: Settings) -> Slice:
    "Jobs stopped, services up, bronze empty, checkpoints and savepoints gone, the jobs' groups at the end of their input topics."
    restore(cfg)
    with connect(cfg, "owner", autocommit=True) as conn:
        conn.execute("TRUNCATE bronze.raw_transactions, bronze.raw_fraud_alerts")
    for d in ("checkpoints", "savepoints"):
        shutil.rmtree(flink_run_dir(cfg) / d, ignore_errors=True)
    s = Slice(cfg, {t.name: end_offsets(cfg, t.name) for t in cfg.kafka.topics.__dict__.values()})
    for job, group in job_groups(cfg).items():
        topic = job_input(cfg, job)
        set_group_offsets(cfg, group, topic, s.start[topic])
    s.log_marks = {str(p): _size(p) for p in _outputs(cfg)}
    return s


def restore(cfg: Settings) -> None:
    "Bring back whatever a fault left down (services, Flink cluster), then stop the jobs."
    up(cfg)
    runner.stop(cfg)


def _size(p: Path) -> int:
    return p.stat().st_size if p.exists() else 0


def read_since(s: Slice, topic: str) -> list[tuple]:
    "The records of `topic` produced since the slice began: `(key, value, partition, offset, ts_ms)`."
    return read_topic(s.cfg, topic, start=s.start.get(topic, {}))  # seeks: the records before the slice are not read


def _outputs(cfg: Settings) -> list[Path]:
    "The job submitter's log and the TaskManagers' output: where the jobs' Python log lines go."
    return [runner.submit_log(cfg), *runner.task_output(cfg)]


def job_output(s: Slice, job: str) -> str:
    "The log lines of job `job` printed since the slice began (by the submitter and inside the TaskManagers)."
    out = []
    for p in _outputs(s.cfg):
        if p.exists():
            with open(p, "rb") as f:
                f.seek(s.log_marks.get(str(p), 0))
                out.append(f.read().decode("utf-8", "replace"))
    return "\n".join(line for line in "\n".join(out).splitlines() if f"streamflow.jobs.{job}" in line)


def diagnostics(cfg: Settings, jobs: Iterable[str] = CORE_JOBS, lines: int = 25) -> str:
    "What became of the jobs, the TaskManagers' output and the cluster's Flink log failures, for an assertion message."
    out = []
    for j in jobs:
        out.append(f"--- {j}: job {runner.job_id(cfg, j)}, restarts {num_restarts(cfg, j)}")
        out.append(runner.death_note(cfg, j))
    for ident in flink.idents(cfg):
        out.append(f"--- {ident}: pid {flink.process_pid(cfg, ident)}")
        out.append(_flink_failures(flink.log_file(cfg, ident), lines))
    return "\n".join(out)


def _flink_failures(path: Path, lines: int) -> str:
    "The last WARN/ERROR lines of a JSON Flink log, with the Python/Java causes of the last failure."
    import json

    if not path.exists():
        return ""
    keep, cause = [], ""
    for line in path.read_text(errors="replace").splitlines()[-3000:]:
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("log.level") in ("WARN", "ERROR"):
            keep.append(f'{d.get("@timestamp", "")[11:19]} {d["log.level"]} {d.get("message", "")[:200]}')
            st = d.get("error.stack_trace") or ""
            causes = [c.strip()[:400] for c in st.splitlines() if "Caused by" in c or "Exception" in c[:80]]
            cause = "\n".join(causes[-4:]) or cause
    return "\n".join(keep[-lines:] + ([f"last failure cause:\n{cause}"] if cause else []))


# --- events -----------------------------------------------------------------------------------------------------------

@dataclass
class World:
    "Generated events for one test, and the control data the jobs will start with."
    lines: list[bytes]
    blacklist: frozenset[str]
    rules: object  # FraudRules the detector uses

    @property
    def ids(self) -> list[str]:
        return [tx.transaction_id for tx in valid_transactions(self.lines)]


def make_world(cfg: Settings, directory: Path, n: int, seed: int) -> World:
    "Generate `n` events (seeded), publish their blacklist, and read back the control state the jobs will see."
    path = directory / f"events-{seed}.jsonl"
    write_events(path, n, seed=seed, progress=False)
    lines = [line.rstrip(b"\n") for line in path.read_bytes().splitlines() if line.strip()]
    publish_blacklist_file(cfg, sidecar_paths(path)["blacklist"])
    blacklist, rules, _ = control_snapshot(cfg)  # the whole compacted control topic: what the detector starts from
    return World(lines, frozenset(blacklist), rules["rules"] if rules else cfg.fraud_rules)


def valid_transactions(lines: Iterable[bytes]) -> list[Transaction]:
    "The records that validate as `Transaction`, in order."
    out = []
    for line in lines:
        tx, _ = parse_record(line, Transaction)
        if isinstance(tx, Transaction):
            out.append(tx)
    return out


def offline_alerts(world: World, lines: Iterable[bytes] | None = None) -> dict[str, tuple[float, list[str]]]:
    "What the offline scorer (`streamflow score`) alerts on over the same events, in the same order."
    txs = valid_transactions(world.lines if lines is None else lines)
    engine = RuleEngine(world.rules)  # type: ignore[arg-type]
    return {tx.transaction_id: (r.fraud_score, list(r.rules_triggered))
            for tx, r in score_events(txs, engine, world.blacklist) if r.is_alert}


class BackgroundProducer(threading.Thread):
    "`produce_events` in a thread (idempotent, acks=all): `delivered` (acknowledged events) or `error` afterwards."

    def __init__(self, cfg: Settings, records: list[bytes], rate: float | None = None):
        super().__init__(daemon=True)
        self.cfg, self.records, self.rate = cfg, records, rate
        self.delivered: int | None = None
        self.error: BaseException | None = None
        self.seconds: float | None = None

    def run(self) -> None:
        t0 = time.monotonic()
        try:
            self.delivered = produce_events(self.cfg, self.records, rate=self.rate, progress=False)
        except BaseException as e:  # reported by the test
            self.error = e
        self.seconds = time.monotonic() - t0

    def result(self, timeout: float) -> int:
        "Wait for the producer; the number of acknowledged events (raises what the producer raised)."
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"producer still running after {timeout:.0f}s")
        if self.error is not None:
            raise AssertionError(f"the producer failed: {self.error!r}") from self.error
        assert self.delivered is not None
        return self.delivered


# --- faults -----------------------------------------------------------------------------------------------------------

def sigkill(pid: int, timeout: float = 30) -> None:
    "kill -9 `pid` and wait until it is gone (a zombie child counts as gone)."
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    raise TimeoutError(f"pid {pid} still alive {timeout}s after SIGKILL")


def kill_broker(cfg: Settings) -> int:
    "SIGKILL the Kafka broker (no controlled shutdown, no flush); the pid it had."
    pid = kafka.broker_pid(cfg)
    assert pid is not None, "the broker is not running"
    sigkill(pid)
    assert kafka.broker_pid(cfg) is None and not kafka.broker_healthy(cfg, timeout=1)
    return pid


def restart_postgres(cfg: Settings, down_s: float) -> float:
    "Stop PostgreSQL (fast shutdown: open transactions roll back), keep it down `down_s` s, start it; seconds down."
    t0 = time.monotonic()
    assert postgres.stop_server(cfg), "PostgreSQL was not running"
    assert not postgres.server_healthy(cfg, timeout=1)
    time.sleep(down_s)
    postgres.start_server(cfg)
    return time.monotonic() - t0


def wait_until(check: Callable[[], object], timeout: float, what: str, cfg: Settings | None = None,
               jobs: Iterable[str] = CORE_JOBS, interval: float = 1.0) -> object:
    "`poll` `check` until truthy (exceptions count as not yet); fail with the jobs' logs if it never is or a job died."
    def jobs_there() -> None:
        if cfg is not None and any(runner.job_id(cfg, j) is None for j in jobs):
            raise AssertionError(f"{what}: a job died\n{diagnostics(cfg, jobs)}")
    try:
        return poll(check, timeout, what, interval, jobs_there)
    except TimeoutError:
        raise AssertionError(f"{what}: not done after {timeout:.0f}s"
                             + (f"\n{diagnostics(cfg, jobs)}" if cfg is not None else "")) from None


def settle(fn: Callable[[], object], seconds: float = 8.0, timeout: float = 300) -> object:
    "The value of `fn` once it has stayed the same for `seconds` (so 'exactly N' is not just 'N so far')."
    last, since, t0 = fn(), time.monotonic(), time.monotonic()
    while time.monotonic() - since < seconds and time.monotonic() - t0 < timeout:
        time.sleep(1.0)
        now = fn()
        if now != last:
            last, since = now, time.monotonic()
    return last


# --- Flink job health ---------------------------------------------------------------------------------------------

def num_restarts(cfg: Settings, job: str) -> float | None:
    "Flink's `numRestarts` of job `job`'s live run (restarts by its restart strategy since it was submitted)."
    m = runner.job_metrics(cfg, job)
    return None if m is None else m["_restarts"]


def kill_taskmanager(cfg: Settings, ident: str = "taskmanager-0") -> int:
    "SIGKILL a TaskManager of the local cluster (its jobs' tasks die with it); the pid it had."
    pid = flink.process_pid(cfg, ident)
    assert pid is not None, f"{ident} is not running"
    sigkill(pid)
    assert flink.process_pid(cfg, ident) is None
    return pid


def kill_cluster(cfg: Settings) -> list[int]:
    "SIGKILL every process of the local Flink cluster, TaskManagers first: the jobs and the JobManager's memory of them go."
    pids = [p for p in reversed(list(flink.cluster_pids(cfg).values())) if p]
    for pid in pids:
        sigkill(pid)
    assert not any(flink.cluster_pids(cfg).values())
    return pids


def bronze_stats(cfg: Settings) -> tuple[int, int, int]:
    "bronze.raw_transactions: rows, distinct transaction ids, distinct lineage keys."
    with connect(cfg) as conn:
        row = conn.execute('SELECT count(*), count(DISTINCT transaction_id), count(DISTINCT (kafka_topic, kafka_partition, kafka_offset)) '
                           "FROM bronze.raw_transactions").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def bronze_alerts(cfg: Settings) -> dict[str, tuple[float, list[str]]]:
    "bronze.raw_fraud_alerts: transaction id -> (score, rules)."
    with connect(cfg) as conn:
        rows = conn.execute("SELECT transaction_id, (raw_payload ->> 'fraud_score')::float8, rules_triggered "
                            "FROM bronze.raw_fraud_alerts").fetchall()  # the exact score: the column keeps three decimals
    return {r[0]: (float(r[1]), list(r[2])) for r in rows}


def _count(cfg: Settings) -> int:
    return bronze_stats(cfg)[0]


# --- the three checks ---------------------------------------------------------------------------------------------

def assert_no_loss_no_duplicates_parity(s: Slice, world: World, timeout: float) -> dict:
    "bronze = produced exactly (by id and lineage), and the alerts in bronze and fraud.alerts = the offline scorer's."
    cfg = s.cfg
    ids = world.ids
    n = len(ids)
    wait_until(lambda: _count(cfg) >= n, timeout, f"bronze >= {n} rows", cfg)
    rows, distinct_ids, distinct_lineage = settle(lambda: bronze_stats(cfg))  # type: ignore[misc]
    assert (rows, distinct_ids, distinct_lineage) == (n, n, n), \
        f"bronze rows/distinct ids/distinct lineage {(rows, distinct_ids, distinct_lineage)} != produced {n}"
    with connect(cfg) as conn:
        got_ids = {r[0] for r in conn.execute("SELECT transaction_id FROM bronze.raw_transactions")}
        tx_topic = cfg.kafka.topics.transactions.name
        lineage_ok = conn.execute('SELECT bool_and(kafka_topic = %s) FROM bronze.raw_transactions', [tx_topic]).fetchone()
    assert got_ids == set(ids), f"bronze ids differ: missing {sorted(set(ids) - got_ids)[:5]}"
    assert lineage_ok == (True,)

    want = offline_alerts(world)
    assert want, "the generated events should contain alerts"
    wait_until(lambda: set(bronze_alerts(cfg)) >= set(want), timeout, f"{len(want)} alerts in bronze", cfg)
    got = settle(lambda: bronze_alerts(cfg))
    assert isinstance(got, dict)
    assert set(got) == set(want), (f"alerts differ from the offline scorer: missing {sorted(set(want) - set(got))[:5]}, "
                                   f"unexpected {sorted(set(got) - set(want))[:5]}")
    for tid, (score, rules) in want.items():
        assert abs(got[tid][0] - score) <= 1e-9 and got[tid][1] == rules, (tid, got[tid], (score, rules))
    import json
    topic_ids = [json.loads(v)["transaction_id"] for _, v, *_ in read_since(s, cfg.kafka.topics.alerts.name)]
    assert set(topic_ids) == set(want), \
        f"fraud.alerts differs: missing {sorted(set(want) - set(topic_ids))[:5]}, extra {sorted(set(topic_ids) - set(want))[:5]}"
    return {"bronze": rows, "alerts": len(want), "alerts_topic_records": len(topic_ids),
            "alerts_topic_replayed": len(topic_ids) - len(set(topic_ids))}  # at-least-once sink: replays allowed
