"""data_quality (every 15 minutes): the dbt-style tests of the warehouse, each writing rows to ops.quality_results.

Null rates, duplicate transaction_ids, freshness, referential integrity, accepted ranges and aggregate-vs-fact
consistency run in parallel; `evaluate` reads this run's results and fails the run (without retrying: the data,
not the task, is wrong) when a check did not pass, so a defect is visible in Airflow as well as in the table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from streamflow.batch import CONN_ID, DEFAULT_PARAMS, QUALITY_CHECKS

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
DEFAULT_ARGS = {"owner": "streamflow", "retries": 2, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="data_quality",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(SQL_DIR)],
    params={"lookback_hours": Param(DEFAULT_PARAMS["lookback_hours"], type="integer", minimum=1,
                                    description="window of the null-rate, duplicate and invalid-rate checks")},
    tags=["streamflow", "quality"],
    doc_md=__doc__,
)
def data_quality():
    checks = [
        SQLExecuteQueryOperator(task_id=name, conn_id=CONN_ID, sql=f"quality/{name}.sql",
                                parameters={"lookback_hours": "{{ params.lookback_hours }}"})
        for name in QUALITY_CHECKS
    ]

    @task
    def evaluate() -> dict:
        "Summarise this run's results; fail (no retry) if any check failed."
        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk.exceptions import AirflowFailException

        # The latest result of every check: this run's (runs are serialised, max_active_runs=1).
        rows = PostgresHook(postgres_conn_id=CONN_ID).get_records(
            "SELECT DISTINCT ON (check_name, table_name) check_name, table_name, measured_value, threshold, passed "
            "FROM ops.quality_results WHERE run_at >= now() - interval '1 hour' "
            "ORDER BY check_name, table_name, run_at DESC")
        failed = [f"{r[0]} on {r[1]}: {r[2]} (threshold {r[3]})" for r in rows if not r[4]]
        if not rows:
            raise AirflowFailException("no quality results were recorded by this run")
        if failed:
            raise AirflowFailException(f"{len(failed)} of {len(rows)} checks failed: " + "; ".join(failed))
        return {"checks": len(rows), "failed": 0}

    checks >> evaluate()


data_quality()
