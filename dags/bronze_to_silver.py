"""bronze_to_silver (hourly): new bronze rows -> typed, validated, deduplicated, enriched silver rows.

Each task runs one SQL model from `sql/transforms/silver/` with the transform role; every model reads only rows
past its watermark and is idempotent, so a rerun of any interval changes nothing. The last task emits the
silver asset, which schedules `silver_to_gold`. Nothing but DAG wiring happens at import time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, chain, dag

from streamflow.batch import CONN_ID, DEFAULT_PARAMS, SILVER_ASSET, SILVER_MODELS

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
SILVER_PARAMS = ("settle_seconds", "risk_window_days", "risk_elevated_alerts", "risk_high_alerts")
DEFAULT_ARGS = {"owner": "streamflow", "retries": 2, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="bronze_to_silver",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(SQL_DIR)],
    params={"settle_seconds": Param(DEFAULT_PARAMS["settle_seconds"], type="number", minimum=0,
                                    description="bronze rows younger than this wait for the next run"),
            "risk_window_days": Param(DEFAULT_PARAMS["risk_window_days"], type="integer", minimum=1,
                                      description="customers' risk profile: alerts over this many days"),
            "risk_elevated_alerts": Param(DEFAULT_PARAMS["risk_elevated_alerts"], type="integer", minimum=1,
                                          description="alerts in the window that make a customer 'elevated'"),
            "risk_high_alerts": Param(DEFAULT_PARAMS["risk_high_alerts"], type="integer", minimum=1,
                                      description="alerts in the window that make a customer 'high' risk")},
    tags=["streamflow", "batch", "silver"],
    doc_md=__doc__,
)
def bronze_to_silver():
    tasks = [
        SQLExecuteQueryOperator(
            task_id=name,
            conn_id=CONN_ID,
            sql=f"transforms/silver/{name}.sql",
            parameters={**{p: f"{{{{ params.{p} }}}}" for p in SILVER_PARAMS},
                        "earth_radius_km": DEFAULT_PARAMS["earth_radius_km"]},  # one radius: models.haversine_km
            show_return_value_in_logs=True,
            outlets=[Asset(SILVER_ASSET)] if name == SILVER_MODELS[-1] else [],
        )
        for name in SILVER_MODELS
    ]
    chain(*tasks)


bronze_to_silver()
