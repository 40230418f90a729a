# StreamFlow Analytics — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
EVENTS ?= 20000
# the fault tests' stream size (issue 8); `make test` runs them smaller: each is mostly fixed cost (cold starts, checkpoints)
CHAOS_EVENTS ?= 100000
CI_CHAOS_EVENTS ?= 20000
# `make test` runs pytest on this many workers (the machine's cores: the tests wait on JVMs and subprocesses much of the time)
PYTEST_WORKERS ?= 2
LAB_PORT ?= 18888
export PYTHONUNBUFFERED := 1

.PHONY: help setup jars demo down test test-fast test-suite test-unit test-chaos test-chaos-ci test-nb lint typecheck checkov check-export validate-deploy airflow experiments bench lab clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	python3 -m venv $(VENV)

$(UV): requirements/bootstrap.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements/bootstrap.txt
	@touch $@

$(VENV)/.installed: $(UV) requirements/base.in requirements/constraints.txt settings.ini setup.py
	$(UV) pip install --python $(BIN)/python -q -r requirements/base.in -c requirements/constraints.txt
	$(UV) pip install --python $(BIN)/python -q --no-deps -e .
	@touch $@

setup: $(VENV)/.installed ## create .venv and install everything with its pins

jars: ## fetch the Kafka broker and Flink connector jars pinned in deploy/local/pom.xml
	mvn -q -B -f deploy/local/pom.xml dependency:copy-dependencies

demo: setup ## the main job: the whole local pipeline on the embedded default (EVENTS=N)
	$(BIN)/streamflow demo --events $(EVENTS)

# the static checks run side by side (check-export first: it may rewrite notebooks that test-nb reads), then the suite
test: setup check-export ## everything CI runs
	$(MAKE) --no-print-directory -j3 --output-sync=target test-nb lint typecheck checkov
	$(MAKE) --no-print-directory test-suite

# the edit loop: no services, no Flink, no papermill; the exported notebooks' own tests and the unit tests, in parallel
FAST_MARKS := not (integration or streaming or airflow or chaos or slow)
test-fast: setup ## unit and notebook tests, no services (under a minute): the edit loop
	@$(BIN)/nbdev_test --n_workers 1 --skip_folder_re '^(experiments|reporting|[_.])' & nb=$$!; \
	$(BIN)/pytest -q -p no:cacheprovider -m "$(FAST_MARKS)"; py=$$?; wait $$nb; nbrc=$$?; \
	echo "test-fast: pytest exit $$py, nbdev_test exit $$nbrc"; exit $$(( py || nbrc ))

check-export: setup ## nbdev_export must not change the committed package
	$(BIN)/python tools/check_export.py

# the research notebooks rule_* and tune_rules run twice each by papermill in tests/test_experiments.py (reproducibility):
# running them a third time here added four minutes and no coverage
test-nb: setup ## run the notebooks' own tests
	$(BIN)/nbdev_test --n_workers 2 --skip_file_re '^(rule_|tune_rules|[_.])'

# one pytest session on two workers, a test file per work unit (long files first: tests/conftest.py LONG_POLES); each
# worker starts its own isolated stack. Measured against running test-unit then test-chaos-ci: docs/BENCHMARKS.md
test-suite: setup ## the whole pytest suite, fault tests at CI size, on PYTEST_WORKERS workers (what `make test` runs)
	STREAMFLOW_CHAOS_EVENTS=$(CI_CHAOS_EVENTS) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=20

test-unit: setup ## the pytest suite (unit, integration, streaming, batch, deploy; not chaos), one process
	$(BIN)/pytest -m "not chaos"

test-chaos: setup ## fault tests: kill/restart Kafka, Flink, PostgreSQL; hostile input; backpressure (CHAOS_EVENTS=N)
	STREAMFLOW_CHAOS_EVENTS=$(CHAOS_EVENTS) $(BIN)/pytest -m chaos tests/chaos

test-chaos-ci: ## the fault tests at the CI size (CI_CHAOS_EVENTS, 20,000)
	$(MAKE) --no-print-directory test-chaos CHAOS_EVENTS=$(CI_CHAOS_EVENTS)

lint: setup ## ruff
	$(BIN)/ruff check streamflow tests tools dags

# Checkov lives in its own venv: its pinned dependencies clash with Airflow's (requirements/checkov.txt)
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements/checkov.txt | $(UV)
	$(UV) venv -q --python $(BIN)/python $(CHECKOV_VENV)
	$(UV) pip install --python $(CHECKOV_VENV)/bin/python -q -r requirements/checkov.txt
	@touch $@

checkov: $(CHECKOV_VENV)/.installed ## IaC scan of deploy/ (Checkov): zero failed checks; skips and reasons in deploy/checkov.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file deploy/checkov.yaml

typecheck: setup ## mypy on the package
	$(BIN)/mypy streamflow

validate-deploy: setup ## offline validation of deploy/ (schemas, HCL, metrics, budget)
	$(BIN)/python deploy/validate/validate.py --budget

down: ## stop the local jobs and services (data is kept in .run/)
	-$(BIN)/streamflow jobs stop
	$(BIN)/streamflow services down

experiments: setup ## research notebooks by papermill (N=events per seed) -> outputs/experiments/*.html, *.json
	tools/experiments.sh $(if $(N),--n $(N))

airflow: setup ## Airflow standalone with the project's DAGs (UI on 127.0.0.1:18080)
	$(BIN)/python -c "from streamflow.config import load_config; from streamflow.batch import airflow_standalone; airflow_standalone(load_config())"

bench: setup ## benchmark: floors, end-to-end drain, latency, warehouse, memory (BENCH_ARGS=...)
	$(BIN)/streamflow bench $(BENCH_ARGS)

lab: setup ## JupyterLab on the project's venv with nbs/ open, on 127.0.0.1:$(LAB_PORT)
	$(BIN)/python -m ipykernel install --sys-prefix --name streamflow --display-name "StreamFlow (.venv)"
	@echo "JupyterLab: open the http://127.0.0.1:$(LAB_PORT)/lab?token=... URL printed below (Ctrl-C stops it)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --notebook-dir=nbs --ip=127.0.0.1 --port=$(LAB_PORT) \
		--no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

clean: ## remove build and test leftovers (keeps .venv and .run)
	rm -rf _docs _proc .pytest_cache .mypy_cache .ruff_cache build *.egg-info
