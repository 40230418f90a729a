# syntax=docker/dockerfile:1.7
# The Airflow image: official (slim) Airflow 3.3.2 on Python 3.11, with the DAGs, the SQL, the notebooks the DAGs run
# through papermill, and the streamflow package baked in (no git-sync, no DAG volume).
# Build from the repository root:
#   docker build -f deploy/docker/airflow.Dockerfile -t ghcr.io/streamflow/streamflow-airflow:$(sed -n "s/^version = //p" settings.ini) .
# The slim image: Airflow without the ~20 providers of the default image, which every Airflow process imports the
# metadata of. Only the three providers the DAGs use are installed below; the memory requests of the Airflow
# components were measured this way (deploy/k8s/airflow/values.yaml).
ARG AIRFLOW_IMAGE=apache/airflow:slim-3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}
ENV STREAMFLOW_HOME=/opt/streamflow
# the project root inside the image (config/, sql/, dags/, and a writable .run/ for runtime files)
USER root
RUN install -d -o airflow -g 0 -m 775 /opt/streamflow /opt/streamflow/.run
USER airflow
COPY requirements/constraints.txt /tmp/constraints.txt
# providers and libraries at the project's pins; Airflow itself stays the image's version
RUN pip install --no-cache-dir -c /tmp/constraints.txt \
      "apache-airflow==3.3.2" \
      apache-airflow-providers-postgres apache-airflow-providers-common-sql apache-airflow-providers-papermill \
      papermill ipykernel nbconvert pydantic pyyaml numpy pandas scipy scikit-learn matplotlib tqdm psutil \
      confluent-kafka "psycopg[binary]"
COPY --chown=airflow:0 settings.ini setup.py pyproject.toml /opt/streamflow/
COPY --chown=airflow:0 streamflow /opt/streamflow/streamflow
COPY --chown=airflow:0 config /opt/streamflow/config
COPY --chown=airflow:0 data/olist_stats.json /opt/streamflow/data/olist_stats.json
COPY --chown=airflow:0 data/reference /opt/streamflow/data/reference
COPY --chown=airflow:0 sql /opt/streamflow/sql
COPY --chown=airflow:0 nbs /opt/streamflow/nbs
RUN pip install --no-cache-dir --no-deps /opt/streamflow \
 && python -c "import streamflow.config as c; c.load_config()"
# DAGs next to sql/ (they read ../sql); values.yaml points core.dags_folder here
COPY --chown=airflow:0 dags /opt/streamflow/dags
