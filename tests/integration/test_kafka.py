"""The real Kafka broker: topics from config, produce/consume with confluent-kafka, consumer groups, restarts."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from streamflow.kafka_auth import client_config
from streamflow.local.kafka import broker_healthy, broker_pid, ensure_topics, start_broker, stop_broker

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def admin(stack):
    return AdminClient(client_config(stack, "operator"))


@pytest.fixture
def topic(admin):
    "A fresh 3-partition topic for one test (the broker does not auto-create topics)."
    name = f"test.{uuid.uuid4().hex[:10]}"
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


def produce(cfg, topic, records):
    # murmur2: the partitioner the Java clients (and so the Flink jobs) use, so a key lands where they expect it.
    # The operator: the only user with rights on the tests' own topics
    p = Producer(client_config(cfg, "operator", **{"enable.idempotence": True, "acks": "all", "linger.ms": 5,
                                                   "partitioner": "murmur2_random"}))
    errors = []
    for key, value in records:
        p.produce(topic, key=key, value=value, on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(30) == 0 and not errors


def consumer(cfg, group, **extra):
    return Consumer(client_config(cfg, "operator", **{"group.id": group, "auto.offset.reset": "earliest",
                                                      "enable.auto.commit": False, "session.timeout.ms": 6000, **extra}))


def consume(c, n, timeout=30):
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        out.append(m)
    return out


def test_topics_have_the_design_settings(stack, admin):
    expected = {"transactions.raw": (3, "delete", 7 * DAY_MS), "fraud.alerts": (1, "delete", 30 * DAY_MS),
                "metrics.realtime": (1, "delete", 1 * DAY_MS), "transactions.dlq": (1, "delete", 30 * DAY_MS),
                stack.kafka.topics.control.name: (1, "compact", None)}
    md = admin.list_topics(timeout=10).topics
    for name, (parts, policy, retention) in expected.items():
        assert len(md[name].partitions) == parts, name
        res = ConfigResource(ResourceType.TOPIC, name)
        conf = admin.describe_configs([res])[res].result(10)
        assert conf["cleanup.policy"].value == policy, name
        if retention is not None:
            assert int(conf["retention.ms"].value) == retention, name
    assert ensure_topics(stack) == []  # idempotent: everything exists already


def test_ensure_topics_fixes_drift(stack, admin):
    name = stack.kafka.topics.metrics.name
    res = ConfigResource(ResourceType.TOPIC, name)
    drifted = stack.model_copy(deep=True)
    drifted.kafka.topics.metrics.retention_ms = 3_600_000
    assert ensure_topics(drifted) == []
    assert admin.describe_configs([res])[res].result(10)["retention.ms"].value == "3600000"
    ensure_topics(stack)  # back to the configured value
    assert int(admin.describe_configs([res])[res].result(10)["retention.ms"].value) == DAY_MS


def test_produce_and_consume_in_a_consumer_group(stack, topic):
    records = [(f"c-{i % 20}".encode(), f'{{"n": {i}}}'.encode()) for i in range(60)]
    produce(stack, topic, records)
    group = f"g-{uuid.uuid4().hex[:8]}"
    c = consumer(stack, group)
    try:
        c.subscribe([topic])
        got = consume(c, len(records))
        c.commit(asynchronous=False)
        committed = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        c.close()
    assert sorted(m.value() for m in got) == sorted(v for _, v in records)
    assert len({m.partition() for m in got}) == 3  # keys spread over the 3 partitions
    by_key = {}
    for m in got:  # one key, one partition: per-customer order is kept
        by_key.setdefault(m.key(), set()).add(m.partition())
    assert all(len(p) == 1 for p in by_key.values())
    assert sum(tp.offset for tp in committed) == len(records)
    # the group resumes after its committed offsets: a new member sees only new messages
    produce(stack, topic, [(b"c-0", b'{"n": "late"}')])
    c2 = consumer(stack, group)
    try:
        c2.subscribe([topic])
        again = consume(c2, 1)
        more = consume(c2, 1, timeout=2)
    finally:
        c2.close()
    assert [m.value() for m in again] == [b'{"n": "late"}'] and more == []


def test_two_members_split_the_partitions(stack, topic):
    group = f"g-{uuid.uuid4().hex[:8]}"
    a, b = consumer(stack, group), consumer(stack, group)
    try:
        a.subscribe([topic])
        b.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            a.poll(0.2)
            b.poll(0.2)
            pa, pb = {tp.partition for tp in a.assignment()}, {tp.partition for tp in b.assignment()}
            if pa and pb and len(pa | pb) == 3:
                break
    finally:
        a.close()
        b.close()
    assert pa and pb and not pa & pb and pa | pb == {0, 1, 2}


def test_messages_survive_a_broker_restart(stack, topic):
    marker = uuid.uuid4().hex
    records = [(str(i).encode(), f"{marker}-{i}".encode()) for i in range(30)]
    produce(stack, topic, records)
    old_pid = broker_pid(stack)
    assert stop_broker(stack)
    assert broker_pid(stack) is None and not broker_healthy(stack, timeout=1)
    new_pid = start_broker(stack)
    assert new_pid != old_pid and broker_healthy(stack)
    c = consumer(stack, f"g-{uuid.uuid4().hex[:8]}")
    try:
        c.subscribe([topic])
        got = consume(c, len(records), timeout=60)
    finally:
        c.close()
    assert sorted(m.value() for m in got) == sorted(v for _, v in records)
