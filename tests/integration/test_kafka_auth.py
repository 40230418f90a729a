"""Kafka authentication and authorization on the real broker (ADR-021): every client logs in as its own SCRAM user,
an anonymous or wrongly authenticated client gets nothing, and each user can do only what config kafka.clients
lists. Only the admin writes fraud.control; only the detector writes transactions.scored."""

import json
import shutil
import subprocess

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

from streamflow.kafka_auth import acl_entries, client_config, kcat_library_dir
from streamflow.kafka_io import control_snapshot, publish_blacklist, publish_control, read_topic, topic_offsets
from streamflow.local.kafka import _admin, acl_binding
from streamflow.messages import blacklist_message
from streamflow.services import env_exports

pytestmark = pytest.mark.integration


def _produce(conf: dict, topic: str, value: bytes = b"{}", wait: float = 15) -> list[KafkaError]:
    "Produce one record; the errors the client saw (delivery and connection errors)."
    errors: list[KafkaError] = []
    p = Producer({**conf, "log_level": 0, "error_cb": errors.append, "message.timeout.ms": int(wait * 1000)})
    p.produce(topic, value=value, on_delivery=lambda err, msg: err and errors.append(err))
    p.flush(wait + 5)
    return errors


def _codes(errors: list[KafkaError]) -> set[int]:
    return {e.code() for e in errors}


def test_an_anonymous_client_gets_nothing(stack):
    topic = stack.kafka.topics.transactions.name
    before = topic_offsets(stack, topic)
    errors = _produce({"bootstrap.servers": stack.kafka.bootstrap}, topic, wait=5)
    assert errors and KafkaError._MSG_TIMED_OUT in _codes(errors), errors  # the broker drops the connection
    assert topic_offsets(stack, topic) == before


def test_a_wrong_password_is_refused_as_such(stack):
    conf = client_config(stack, "producer", **{"sasl.password": "not-the-password"})
    errors = _produce(conf, stack.kafka.topics.transactions.name, wait=5)
    assert KafkaError._AUTHENTICATION in _codes(errors), errors


@pytest.mark.skipif(not shutil.which("kcat"), reason="kcat is not installed (apt-get install kcat)")
def test_kcat_needs_the_settings_streamflow_env_prints(stack, tmp_path):
    "What a person would try: kcat without credentials is refused; with `streamflow env`'s KCAT_CONFIG it reads."
    alerts, raw = stack.kafka.topics.alerts.name, stack.kafka.topics.transactions.name
    before = topic_offsets(stack, raw)
    anon = subprocess.run(["kcat", "-b", stack.kafka.bootstrap, "-P", "-t", raw, "-m", "5"], input=b'{"x": 1}\n',
                          capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert anon.returncode != 0, anon
    assert topic_offsets(stack, raw) == before
    lines = env_exports(stack).splitlines()
    conf = next(line for line in lines if line.startswith("export KCAT_CONFIG=")).split("=", 1)[1]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KCAT_CONFIG": conf}
    lib = kcat_library_dir(stack)  # what the printed `alias kcat=...` sets, when this kcat's librdkafka is too old
    assert (lib is not None) == any(line.startswith("alias kcat=") for line in lines)
    if lib:
        env["LD_LIBRARY_PATH"] = lib
    meta = subprocess.run(["kcat", "-L", "-t", alerts], capture_output=True, text=True, timeout=60, env=env)
    assert meta.returncode == 0 and f'topic "{alerts}"' in meta.stdout, meta
    write = subprocess.run(["kcat", "-P", "-t", raw, "-m", "5"], input=b'{"x": 1}\n', capture_output=True, timeout=60, env=env)
    assert b"authorization failed" in write.stderr.lower(), write  # the reader reads; it does not write
    assert topic_offsets(stack, raw) == before


def test_only_the_admin_writes_the_control_topic(stack):
    cid = "c-acl-test"
    with pytest.raises(RuntimeError, match="Topic authorization failed"):
        publish_control(stack, [blacklist_message(cid, True)], client="detector")
    for client in ("producer", "processor", "aggregator", "reader"):
        errors = _produce(client_config(stack, client), stack.kafka.topics.control.name)
        assert KafkaError.TOPIC_AUTHORIZATION_FAILED in _codes(errors), (client, errors)
    assert cid not in control_snapshot(stack)[0]
    assert publish_blacklist(stack, [cid]) == 1  # the admin, the CLI's default for control messages
    assert cid in control_snapshot(stack)[0]
    publish_blacklist(stack, [cid], active=False)


def test_only_the_detector_writes_scored_events(stack):
    for client in ("producer", "processor", "aggregator", "admin"):
        errors = _produce(client_config(stack, client), stack.kafka.topics.scored.name)
        assert KafkaError.TOPIC_AUTHORIZATION_FAILED in _codes(errors), (client, errors)
    assert not _produce(client_config(stack, "detector"), stack.kafka.topics.scored.name, b'{"acl": "test"}')
    assert any(v == b'{"acl": "test"}' for _, v, *_ in read_topic(stack, stack.kafka.topics.scored.name))


@pytest.mark.parametrize("client, topic, allowed", [
    ("producer", "alerts", False),  # the generator never reads what the detector concluded
    ("processor", "control", False),
    ("aggregator", "transactions", False),
    ("detector", "transactions", True),
])
def test_a_client_reads_only_its_own_topics(stack, client, topic, allowed):
    name = getattr(stack.kafka.topics, key := topic).name
    prefix = {"detector": "fraud-detector", "processor": "transaction-processor", "aggregator": "realtime-aggregator"}
    group = f"{stack.kafka.client_id}-{prefix.get(client, client)}-acl-test"
    c = Consumer(client_config(stack, client, **{"group.id": group, "auto.offset.reset": "earliest",
                                                 "enable.auto.commit": False, "log_level": 0}))
    try:
        c.subscribe([name])
        errors = [m.error() for m in (c.poll(1) for _ in range(10)) if m is not None and m.error()]
    finally:
        c.close()
    refused = [e for e in errors if e.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)]
    assert bool(refused) != allowed, (client, key, errors)


def test_the_broker_holds_exactly_the_configured_acls(stack):
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                             AclPermissionType.ANY)
    admin = _admin(stack)  # keep a reference until the future resolves (a collected client never answers)
    have = {str(b) for b in admin.describe_acls(every).result(timeout=30)}
    assert have == {str(acl_binding(a)) for a in acl_entries(stack)}, sorted(have ^ {str(acl_binding(a)) for a in acl_entries(stack)})


def test_blacklist_commands_record_who_and_why(stack, capsys):
    "`streamflow blacklist` writes as the admin (the only writer of fraud.control) and `list` shows who, when and why."
    from streamflow.cli import main

    assert main(["blacklist", "add", "c-cli 1", "c-cli-2", "--reason", "chargeback 2026-11-30", "--by", "ana"]) == 0
    assert "blacklisted 2 customer(s) as ana" in capsys.readouterr().out
    assert {"c-cli 1", "c-cli-2"} <= control_snapshot(stack)[0]  # what the detector folds into its broadcast state
    assert main(["blacklist", "remove", "c-cli-2", "--reason", "customer verified"]) == 0  # --by defaults to user@host
    capsys.readouterr()
    assert main(["blacklist", "list", "--all", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert entries["c-cli 1"]["active"] is True and entries["c-cli 1"]["by"] == "ana"
    assert entries["c-cli 1"]["reason"] == "chargeback 2026-11-30" and entries["c-cli 1"]["at"].endswith("+00:00")
    assert entries["c-cli-2"]["active"] is False and "@" in entries["c-cli-2"]["by"]
    assert main(["blacklist", "list"]) == 0
    listed = capsys.readouterr().out
    assert "c-cli 1" in listed and "c-cli-2" not in listed  # lifted entries only with --all
    assert "c-cli-2" not in control_snapshot(stack)[0]
    publish_blacklist(stack, ["c-cli 1"], active=False)
