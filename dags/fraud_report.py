"""fraud_report (daily): the fraud and data-quality report notebooks, executed by papermill, rendered to HTML.

`prepare` makes `<reports_dir>/<day>/`; each report notebook in `nbs/reporting/` runs with the data interval as
parameters (what was ingested in that day) and the name of the environment variable holding the warehouse URI;
`render` writes an HTML copy (figures embedded) next to every executed notebook.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.papermill.operators.papermill import PapermillOperator
from airflow.sdk import CronDataIntervalTimetable, dag, task

from streamflow.batch import REPORTS, REPORTS_DSN_ENV

NB_DIR = Path(__file__).resolve().parents[1] / "nbs" / "reporting"
DEFAULT_ARGS = {"owner": "streamflow", "retries": 2, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="fraud_report",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["streamflow", "reports"],
    doc_md=__doc__,
)
def fraud_report():
    @task
    def prepare(data_interval_start=None) -> dict:
        "Create the interval's report folder; the executed notebooks' paths."
        from streamflow.batch import report_dir
        from streamflow.config import load_config

        out = report_dir(load_config(), data_interval_start)
        out.mkdir(parents=True, exist_ok=True)
        return {"dir": str(out), **{name: str(out / f"{name}.ipynb") for name in REPORTS}}

    @task
    def render(paths: dict) -> list[str]:
        "Render every executed notebook to HTML next to it."
        from streamflow.batch import render_html

        return [str(render_html(paths[name])) for name in REPORTS]

    paths = prepare()
    runs = [
        PapermillOperator(
            task_id=name,
            input_nb=str(NB_DIR / f"{name}.ipynb"),
            output_nb="{{ ti.xcom_pull(task_ids='prepare')['" + name + "'] }}",
            parameters={"dsn_env": REPORTS_DSN_ENV, "interval_start": "{{ data_interval_start }}",
                        "interval_end": "{{ data_interval_end }}",
                        "output_dir": "{{ ti.xcom_pull(task_ids='prepare')['dir'] }}"},
            kernel_name="python3",
            language_name="python",
        )
        for name in REPORTS
    ]
    paths >> runs >> render(paths)


fraud_report()
