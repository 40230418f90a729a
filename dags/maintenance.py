"""maintenance (daily, 03:00 UTC): prune bronze past retention, VACUUM/ANALYZE, keep dim_date filled ahead.

Pruning only deletes bronze rows that silver has already read. VACUUM cannot run inside a transaction, so its
file runs with autocommit, statement by statement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import CronDataIntervalTimetable, Param, chain, dag

from streamflow.batch import CONN_ID, DEFAULT_PARAMS

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
DEFAULT_ARGS = {"owner": "streamflow", "retries": 2, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="maintenance",
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(SQL_DIR)],
    params={
        "retention_days": Param(DEFAULT_PARAMS["retention_days"], type="integer", minimum=1,
                                description="bronze rows older than this (and already in silver) are deleted"),
        "days_ahead": Param(DEFAULT_PARAMS["days_ahead"], type="integer", minimum=1,
                            description="dim_date is kept filled this many days past today"),
    },
    tags=["streamflow", "maintenance"],
    doc_md=__doc__,
)
def maintenance():
    prune = SQLExecuteQueryOperator(task_id="prune_bronze", conn_id=CONN_ID, sql="maintenance/prune_bronze.sql",
                                    parameters={"retention_days": "{{ params.retention_days }}"},
                                    show_return_value_in_logs=True)
    vacuum = SQLExecuteQueryOperator(task_id="vacuum_analyze", conn_id=CONN_ID, sql="maintenance/vacuum_analyze.sql",
                                     autocommit=True, split_statements=True)
    extend = SQLExecuteQueryOperator(task_id="extend_dim_date", conn_id=CONN_ID, sql="transforms/gold/dim_date.sql",
                                     parameters={"days_ahead": "{{ params.days_ahead }}"})
    chain(prune, vacuum)
    chain(extend)


maintenance()
