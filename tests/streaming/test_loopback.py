"""The local stack listens on loopback only (issue 18): with Kafka, PostgreSQL and the three jobs running, every
listening TCP socket and every bound UDP socket of their process trees (the broker JVM, the postmaster and its
backends, the Flink JobManager and TaskManager running the jobs) is on a loopback address. A laptop on a shared
network exposes nothing: no Flink web UI, RPC, blob or data port, no metrics endpoint, no Python-side server."""

from __future__ import annotations

import ipaddress

import psutil
import pytest

from streamflow.config import Settings
from streamflow.jobs import runner
from streamflow.local.flink import cluster_pids
from streamflow.local.kafka import broker_pid
from streamflow.local.postgres import server_pid

pytestmark = [pytest.mark.streaming, pytest.mark.integration]


def loopback(ip: str) -> bool:
    "127.0.0.0/8, ::1, or an IPv4-mapped loopback (::ffff:127.0.0.1: a Java socket bound to 127.0.0.1 on a dual stack)."
    a = ipaddress.ip_address(ip.split("%")[0])
    return a.is_loopback or bool(isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped and a.ipv4_mapped.is_loopback)


def listening(pids: list[int]) -> list[tuple[str, int, str, str]]:
    "(address, port, kind, process) of every listening TCP and bound-but-unconnected UDP socket of `pids` and their children."
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        p = psutil.Process(pid)
        procs |= {q.pid: q for q in [p, *p.children(recursive=True)]}
    out = []
    for p in procs.values():
        try:
            name = f"{p.pid} {' '.join(p.cmdline())[:80]}"
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN or (c.status == psutil.CONN_NONE and not c.raddr):
                    out.append((c.laddr.ip, c.laddr.port, "tcp" if c.status == psutil.CONN_LISTEN else "udp", name))
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.timeout(900)
def test_every_socket_of_the_running_stack_is_on_loopback(own_stack: Settings):
    cfg = own_stack
    try:
        runner.start(cfg, fresh=True)
        runner.wait_running(cfg, timeout=600)
        pids = [broker_pid(cfg), server_pid(cfg), *cluster_pids(cfg).values()]
        assert all(pids), pids
        sockets = listening(pids)  # type: ignore[arg-type]
        # Kafka's two listeners, PostgreSQL, and of Flink: the web UI/REST, RPC, BLOB, data, two metrics endpoints
        assert len(sockets) >= 8, sockets
        assert cfg.flink.rest_port in {port for _, port, *_ in sockets}
        exposed = sorted(s for s in sockets if not loopback(s[0]))
        assert exposed == [], "\n".join(f"{ip}:{port}/{kind} {proc}" for ip, port, kind, proc in exposed)
    finally:
        runner.stop(cfg)
