# syntax=docker/dockerfile:1.7
# The PyFlink job image: Flink 2.2 + Python 3.11 + the streamflow package + the connector jars.
# The session cluster (deploy/k8s/flink/session-cluster.yaml) runs it; its three FlinkSessionJobs start PythonDriver
# with `-pym streamflow.jobs.<job>` (the same entry points as local).
# Build from the repository root:
#   docker build -f deploy/docker/flink.Dockerfile -t ghcr.io/streamflow/streamflow-flink:$(sed -n "s/^version = //p" settings.ini) .
ARG FLINK_IMAGE=flink:2.2.1-java17
ARG MAVEN_IMAGE=maven:3.9.11-eclipse-temurin-17
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.9.7

# 1. connector jars, resolved by Maven from the same pom the local platform uses (one list of versions)
FROM ${MAVEN_IMAGE} AS jars
WORKDIR /build
COPY deploy/local/pom.xml deploy/local/pom.xml
COPY deploy/local/kafka/pom.xml deploy/local/kafka/pom.xml
COPY deploy/local/flink/pom.xml deploy/local/flink/pom.xml
RUN mvn -q -f deploy/local/pom.xml -pl flink dependency:copy-dependencies -Dlib.dir=/jars \
 # the Prometheus reporter is loaded as a plugin from the Flink distribution instead (below)
 && rm -f /jars/flink/flink-metrics-prometheus-*.jar /jars/flink/simpleclient*.jar

FROM ${UV_IMAGE} AS uv

# 2. Flink + Python
FROM ${FLINK_IMAGE}
ARG PYTHON_VERSION=3.11
USER root
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/uv-python \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1 \
    STREAMFLOW_HOME=/opt/streamflow
# a standalone CPython (with libpython, which PEMJA needs for python.execution-mode: thread) in /opt/python
RUN uv venv --python ${PYTHON_VERSION} /opt/python
COPY requirements/constraints.txt /tmp/constraints.txt
# only what the jobs import, at the project's pinned versions
RUN uv pip install --python /opt/python/bin/python -c /tmp/constraints.txt \
      apache-flink pydantic pyyaml numpy pandas tqdm psutil confluent-kafka "psycopg[binary]"

# the streamflow package (a regular install, not editable) and its config/data, found via STREAMFLOW_HOME
COPY settings.ini setup.py pyproject.toml /opt/streamflow/
COPY streamflow /opt/streamflow/streamflow
COPY config /opt/streamflow/config
COPY data/olist_stats.json /opt/streamflow/data/olist_stats.json
COPY data/reference /opt/streamflow/data/reference
RUN uv pip install --python /opt/python/bin/python --no-deps /opt/streamflow \
 && /opt/python/bin/python -c "import pyflink, streamflow.config as c; c.load_config()"

# connectors on Flink's classpath; Prometheus reporter as a plugin (metrics.reporter.prom.* in the deployments);
# flink-python copied from opt/ to lib/ as well: the session jobs name no jar, so PythonDriver must be on the
# JobManager's classpath, and PEMJA (parent-first, session-cluster.yaml) must come from the system classloader in a
# TaskManager that runs several Python jobs. It stays in opt/: Flink adds it from there to every Python job.
COPY --from=jars /jars/flink/ /opt/flink/lib/
RUN mkdir -p /opt/flink/plugins/metrics-prometheus \
 && cp /opt/flink/opt/flink-metrics-prometheus-*.jar /opt/flink/plugins/metrics-prometheus/ \
 && cp /opt/flink/opt/flink-python-2.2.1.jar /opt/flink/lib/ \
 && mkdir -p /opt/streamflow/.run && chown -R flink:flink /opt/streamflow
USER flink
