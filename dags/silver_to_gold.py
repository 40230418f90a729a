"""silver_to_gold (after bronze_to_silver, on its asset): dimensions, facts and aggregates of the star schema.

`begin_batch` fixes the window of silver changes to read, the models upsert from that window (dimensions, then
facts, then the aggregates recomputed for the hours and days the window touched), `commit_batch` moves the
watermark past it. The models of one stage of `GOLD_STAGES` run in parallel. A failed run is rerun as is: the
models are idempotent upserts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import Asset, Param, dag

from streamflow.batch import CONN_ID, DEFAULT_PARAMS, GOLD_ASSET, GOLD_STAGES, SILVER_ASSET

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
DEFAULT_ARGS = {"owner": "streamflow", "retries": 2, "retry_delay": timedelta(minutes=2)}


def _model(name: str, **kw) -> SQLExecuteQueryOperator:
    return SQLExecuteQueryOperator(task_id=name, conn_id=CONN_ID, sql=f"transforms/gold/{name}.sql",
                                   show_return_value_in_logs=True, **kw)


@dag(
    dag_id="silver_to_gold",
    schedule=[Asset(SILVER_ASSET)],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(SQL_DIR)],
    params={"days_ahead": Param(DEFAULT_PARAMS["days_ahead"], type="integer", minimum=1,
                                description="dim_date is kept filled this many days past today")},
    tags=["streamflow", "batch", "gold"],
    doc_md=__doc__,
)
def silver_to_gold():
    # GOLD_STAGES (streamflow.batch): the models of one stage depend only on earlier stages, so they run in parallel
    kw = {"dim_date": {"parameters": {"days_ahead": "{{ params.days_ahead }}"}},
          "commit_batch": {"outlets": [Asset(GOLD_ASSET)]}}
    stages = [[_model(name, **kw.get(name, {})) for name in stage] for stage in GOLD_STAGES]
    for before, after in zip(stages, stages[1:], strict=False):
        for upstream in before:
            upstream >> after


silver_to_gold()
