"""silver_to_gold (after bronze_to_silver, on its asset): dimensions, facts and aggregates of the star schema.

`begin_batch` fixes the window of silver changes to read, the models upsert from that window (dimensions, then
facts, then the aggregates recomputed for the hours and days the window touched), `commit_batch` moves the
watermark past it. A failed run is rerun as is: the models are idempotent upserts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import Asset, Param, chain, dag

from streamflow.batch import CONN_ID, DEFAULT_PARAMS, GOLD_ASSET, SILVER_ASSET

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
    begin = _model("begin_batch")
    dims = [_model("dim_date", parameters={"days_ahead": "{{ params.days_ahead }}"}),
            _model("dim_customer"), _model("dim_store"), _model("dim_product")]
    facts = [_model("fact_transactions"), _model("fact_fraud_alerts")]
    aggs = [_model("agg_hourly_sales"), _model("agg_daily_fraud")]
    commit = _model("commit_batch", outlets=[Asset(GOLD_ASSET)])
    chain(begin, dims, facts[0])
    chain(facts[0], facts[1], aggs, commit)


silver_to_gold()
