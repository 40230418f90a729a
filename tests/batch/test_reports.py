"""The two report notebooks as a reader sees them: executed by papermill on the real warehouse, rendered to HTML.

A day with data opens with a headline and shows numbers written for people (thousands separators, money with two
decimals, rates as percentages); a day without data says so in sentences instead of drawing empty axes. Neither
shows front matter or raw floats.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from batch_helpers import events, write_bronze

from streamflow.batch import REPORTS, REPORTS_DSN_ENV, load_labels, refresh, render_html, report_notebook, run_models
from streamflow.messages import rules_version
from streamflow.warehouse import dsn_for

pytestmark = pytest.mark.integration


def _visible_text(html: str) -> str:
    "What a browser shows as text: no styles, scripts or embedded images, tags removed."
    for block in ("style", "script"):
        html = re.sub(rf"<{block}\b.*?</{block}>", " ", html, flags=re.S | re.I)
    html = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _render(cfg, tmp_path, name: str, start: datetime, end: datetime) -> tuple[str, str]:
    import papermill as pm

    out = tmp_path / f"{name}-{start:%Y%m%d}.ipynb"
    pm.execute_notebook(str(report_notebook(cfg, name)), str(out), kernel_name="python3", progress_bar=False,
                        parameters={"dsn_env": REPORTS_DSN_ENV, "interval_start": start.isoformat(),
                                    "interval_end": end.isoformat()})
    html = render_html(out).read_text(encoding="utf-8")
    return html, _visible_text(html)


@pytest.fixture
def report_env(warehouse, transform_dsn, monkeypatch):
    monkeypatch.setenv(REPORTS_DSN_ENV, dsn_for(warehouse, "reader"))  # reports read as the reader role, as in Airflow
    monkeypatch.setenv("STREAMFLOW__KAFKA__BOOTSTRAP", warehouse.kafka.bootstrap)  # the dead letters: the test broker
    return warehouse


def test_reports_read_well_on_a_day_with_data_and_on_an_empty_one(report_env, transform_dsn, tmp_path):
    cfg = report_env
    path = events(tmp_path, 2000, cfg=cfg)
    write_bronze(cfg, path)
    load_labels(transform_dsn, path.with_name(path.name + ".labels.jsonl"))
    refresh(transform_dsn, cfg, {"settle_seconds": 0})
    run_models(transform_dsn, cfg, "quality")
    now = datetime.now(UTC)
    day = (now - timedelta(days=1), now + timedelta(hours=1))
    empty = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))
    for name in REPORTS:
        for start, end in (day, empty):
            html, text = _render(cfg, tmp_path, name, start, end)
            assert "skip_exec" not in html and not text.lstrip().startswith("---"), "front matter shown"
            assert not re.findall(r"\b\d+\.\d{4,}\b", text), re.findall(r"\b\d+\.\d{4,}\b", text)[:5]  # raw floats
            assert "nan" not in text.split() and "None" not in text.split()
            if (start, end) == empty:
                assert "in this interval" in text  # a sentence, not an empty chart
                if name == "fraud_report":
                    assert "src=\"data:image/png" not in html and "No transactions in this interval" in text
            elif name == "fraud_report":
                assert html.count("src=\"data:image/png") >= 3  # the figures are embedded
                assert re.search(r"2,000 transactions \(R\$ [\d,]+\.\d\d\)", text), text[:600]  # the headline
                assert re.search(r"\d+ alerts \(\d+\.\d\d %\)", text) and "precision" in text
                assert "Precision" in text and "%" in text
                assert f"Every alert of the interval was raised by rule set {rules_version(cfg.fraud_rules)}" in text
            else:
                assert re.search(r"\d+ of \d+ checks failing", text)
                assert "No rejected or flagged rows in silver in this interval" in text
