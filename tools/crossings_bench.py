"""What one record costs at the PyFlink thread-mode boundary: state layouts and side outputs, in microseconds.

Each case is a real PyFlink job (thread mode, local MiniCluster) on a Java number source; it runs twice, with
`--small` and `--large` records, and the difference divided by the difference in records is the marginal cost
per record, with the job's start-up cancelled out. Printed, never asserted (docs/BENCHMARKS.md, "Cutting the
conversions").

    .venv/bin/python tools/crossings_bench.py            # all cases
    .venv/bin/python tools/crossings_bench.py row tuple  # some
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import site
import subprocess
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # name -> what the process function does per record
    "none": "nothing: a Python operator's own floor",
    "row": "keyed value state read + write, the customer profile as a typed Row",
    "tuple": "the same profile as one pickled tuple",
    "side-row": "a scored row (9 fields) to a side output into a Flink SQL sink",
    "side-json": "the same as (key, json.dumps) strings",
}


def job(case: str, n: int) -> float:
    "Run one job of `n` records; its wall time (s) from execute to end."
    from pyflink.common import Configuration, Row, Types, WatermarkStrategy
    from pyflink.datastream import KeyedProcessFunction, OutputTag, StreamExecutionEnvironment
    from pyflink.datastream.connectors.number_seq import NumberSequenceSource
    from pyflink.datastream.state import ValueStateDescriptor

    from streamflow.connectors import row_type
    from streamflow.jobs.fraud_detector import STATE_FIELDS, side_output
    from streamflow.rows import SCORED, names

    example = {"int": 5, "long": 5, "double": 1.5}
    profile = tuple(example.get(t) or ([1.0] * 10 if f == "recent_ts" else [0.5] * 24) for f, t in STATE_FIELDS)
    scored = ("t-7-000000123", "s-0016", 1767592800000, 153.31, False, 0.1234, 2, 123456, "abc123def456")
    scored_names = names(SCORED)
    side = case.startswith("side")
    tag = OutputTag("out", row_type(SCORED) if case == "side-row"
                    else Types.ROW_NAMED(["key", "value"], [Types.STRING(), Types.STRING()]))

    class Case(KeyedProcessFunction):
        def open(self, ctx):
            kind = {"row": row_type(STATE_FIELDS), "tuple": Types.PICKLED_BYTE_ARRAY()}.get(case)
            self.state = ctx.get_state(ValueStateDescriptor("s", kind)) if kind else None

        def process_element(self, value, ctx):
            if case == "row":
                r = self.state.value()
                self.state.update(Row(*(r if r is not None else profile)))
            elif case == "tuple":
                r = self.state.value()
                self.state.update(tuple(r if r is not None else profile))
            elif case == "side-row":
                yield tag, Row(*scored)
            elif case == "side-json":
                yield tag, Row("p0-1", json.dumps(dict(zip(scored_names, scored, strict=True))))

    conf = Configuration()
    conf.set_string("python.execution-mode", "thread")
    conf.set_string("python.executable", sys.executable)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(1)
    src = env.from_source(NumberSequenceSource(1, n), WatermarkStrategy.no_watermarks(), "numbers")
    out = src.key_by(lambda x: x % 20_000, key_type=Types.LONG()).process(Case(), output_type=Types.LONG())
    if side:
        from pyflink.table import StreamTableEnvironment
        t_env = StreamTableEnvironment.create(env)
        t_env.create_temporary_view("side", t_env.from_data_stream(side_output(out, tag)))
        schema = t_env.from_path("side").get_schema()
        cols = ", ".join(f"`{c}` {t}" for c, t in zip(schema.get_field_names(), map(str, schema.get_field_data_types()),
                                                      strict=True))
        t_env.execute_sql(f"CREATE TEMPORARY TABLE sink ({cols}) WITH ('connector' = 'blackhole')")
        stmts = t_env.create_statement_set()
        stmts.add_insert_sql("INSERT INTO sink SELECT * FROM side")
        stmts.attach_as_datastream()
    out.filter(lambda x: False).print()  # the main output dropped in Python: the same for every case
    t0 = time.perf_counter()
    env.execute(f"crossings-{case}")
    return time.perf_counter() - t0


def pickle_round_trip_us() -> dict[str, float]:
    "One bronze row pickled and unpickled, as PyFlink does for a list-state element: a Row against a tuple."
    from pyflink.common import Row
    raw = '{"transaction_id":"t-7-000000000","customer_id":"c-000716","amount":"153.31","timestamp":"2026-01-05T00:04:59-03:00"}'
    values = ("transactions.raw", 1, 123456, "c-000716", "t-7-000000000", "2026-01-05T00:04:59-03:00", raw)
    out = {}
    for name, obj in (("Row", Row(*values)), ("tuple", values)):
        blob = pickle.dumps(obj)
        n = 100_000
        out[name] = (timeit.timeit(lambda o=obj: pickle.dumps(o), number=n)
                     + timeit.timeit(lambda b=blob: pickle.loads(b), number=n)) / n * 1e6
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", metavar="CASE", help=f"cases to run: {', '.join(CASES)} (default: all)")
    p.add_argument("--small", type=int, default=200_000, help="records of the first run")
    p.add_argument("--large", type=int, default=600_000, help="records of the second run")
    p.add_argument("--one", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)  # a child: one job, its seconds
    a = p.parse_args(argv)
    if a.one:
        print(job(a.one[0], int(a.one[1])))
        return
    if a.large <= a.small:
        p.error("--large must be more than --small")
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; expected some of {', '.join(CASES)}")
    # the TaskManager's embedded interpreter imports streamflow and this venv's packages from PYTHONPATH
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *site.getsitepackages()])}
    for case in a.cases or list(CASES):
        secs = [float(subprocess.run([sys.executable, __file__, "--one", case, str(n)], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()[-1]) for n in (a.small, a.large)]
        per = (secs[1] - secs[0]) / (a.large - a.small) * 1e6
        print(f"{case:<10} {per:6.1f} us/record  ({secs[0]:.1f} s, {secs[1]:.1f} s)  {CASES[case]}", flush=True)
    rt = pickle_round_trip_us()
    print(f"pickle round trip of a bronze row: Row {rt['Row']:.2f} us, tuple {rt['tuple']:.2f} us")


if __name__ == "__main__":
    main()
