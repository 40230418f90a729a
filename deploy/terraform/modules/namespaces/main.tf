# The five namespaces and the credentials every later unit consumes. Passwords are generated here (never
# committed) and written as Secrets into each namespace that needs them, so the units after this one only
# reference Secret names.
data "kubectl_file_documents" "namespaces" {
  content = file("${var.k8s_dir}/namespaces/namespaces.yaml")
}

resource "kubectl_manifest" "namespaces" {
  for_each          = data.kubectl_file_documents.namespaces.manifests
  yaml_body         = each.value
  server_side_apply = true
}

# Default-deny ingress per namespace and the flows the data path needs (deploy/k8s/namespaces/network-policies.yaml)
data "kubectl_file_documents" "network_policies" {
  content = file("${var.k8s_dir}/namespaces/network-policies.yaml")
}

resource "kubectl_manifest" "network_policies" {
  for_each          = data.kubectl_file_documents.network_policies.manifests
  yaml_body         = each.value
  server_side_apply = true
  depends_on        = [kubectl_manifest.namespaces]
}

locals {
  pg_host = "streamflow-pg-rw.streamflow-data.svc"
  # config/default.yaml postgres.superuser / postgres.roles, plus Airflow's metadata owner
  pg_roles = {
    "streamflow-owner"     = "streamflow_owner"
    "streamflow-writer"    = "streamflow_writer"
    "streamflow-transform" = "streamflow_transform"
    "streamflow-reader"    = "streamflow_reader"
    "airflow-db"           = "airflow"
  }
}

resource "random_password" "pg" {
  for_each = local.pg_roles
  length   = 32
  special  = false # used inside DSNs without escaping
}

# Role passwords as basic-auth Secrets in the cluster's namespace: CloudNativePG reads the owner's and airflow's
# (managed roles); the migration Job reads the three client roles' (`streamflow migrate` creates and sets them).
resource "kubernetes_secret_v1" "pg_role" {
  for_each = local.pg_roles
  metadata {
    name      = each.key
    namespace = "streamflow-data"
    labels    = { "cnpg.io/reload" = "true" }
  }
  type = "kubernetes.io/basic-auth"
  data = {
    username = each.value
    password = random_password.pg[each.key].result
  }
  depends_on = [kubectl_manifest.namespaces]
}

# Client credentials in the clients' namespaces (a pod can only read Secrets of its own namespace), in the form
# the project's config expects: STREAMFLOW_PG_<ROLE>_PASSWORD for the Flink jobs (writer role), the Airflow
# connection streamflow.batch reads (transform role) and the reports' URI (reader role).
resource "kubernetes_secret_v1" "pg_writer" {
  metadata {
    name      = "streamflow-pg-writer"
    namespace = "streamflow-processing"
  }
  data       = { password = random_password.pg["streamflow-writer"].result }
  depends_on = [kubectl_manifest.namespaces]
}

locals {
  transform_password = random_password.pg["streamflow-transform"].result
  reader_password    = random_password.pg["streamflow-reader"].result
}

# The DAGs' tasks connect as the transform role; the report notebooks as the reader (read-only). Both over TLS:
# CloudNativePG serves it by default, and sslmode=require refuses a plaintext fallback.
resource "kubernetes_secret_v1" "warehouse" {
  metadata {
    name      = "streamflow-warehouse"
    namespace = "streamflow-orchestration"
  }
  data = {
    password    = local.transform_password
    reports_dsn = "postgresql://streamflow_reader:${local.reader_password}@${local.pg_host}:5432/streamflow?sslmode=require"
    conn = jsonencode({
      conn_type = "postgres", host = local.pg_host, port = 5432, login = "streamflow_transform",
      password  = local.transform_password, schema = "streamflow", extra = { sslmode = "require" }
    })
  }
  depends_on = [kubectl_manifest.namespaces]
}

# Kafka: one SCRAM user per client (config/default.yaml kafka.clients; the KafkaUsers in deploy/k8s/kafka/users.yaml
# read their passwords from streamflow-kafka-<client>). The clients get theirs as the STREAMFLOW_KAFKA_<CLIENT>_PASSWORD
# the project's config reads: the three jobs in streamflow-processing, the read-only reader in
# streamflow-orchestration. The admin's (fraud.control: rules and blacklist) stays in streamflow-kafka, for operators.
locals {
  kafka_clients = ["admin", "producer", "processor", "detector", "aggregator", "reader"]
}

resource "random_password" "kafka" {
  for_each = toset(local.kafka_clients)
  length   = 32
  special  = false # quoted inside a JAAS line: no quotes, backslashes or semicolons
}

resource "kubernetes_secret_v1" "kafka_user" {
  for_each = toset(local.kafka_clients)
  metadata {
    name      = "streamflow-kafka-${each.key}"
    namespace = "streamflow-kafka"
  }
  data       = { password = random_password.kafka[each.key].result }
  depends_on = [kubectl_manifest.namespaces]
}

resource "kubernetes_secret_v1" "kafka_clients" {
  for_each = {
    "streamflow-processing"    = { name = "streamflow-kafka-jobs", clients = ["processor", "detector", "aggregator"] }
    "streamflow-orchestration" = { name = "streamflow-kafka-airflow", clients = ["reader"] }
  }
  metadata {
    name      = each.value.name
    namespace = each.key
  }
  data       = { for c in each.value.clients : c => random_password.kafka[c].result }
  depends_on = [kubectl_manifest.namespaces]
}

resource "random_id" "fernet" {
  byte_length = 32
}

resource "random_password" "airflow" {
  for_each = toset(["api-secret-key", "jwt-secret", "admin"])
  length   = 48
  special  = false
}

# The Secrets the Airflow chart values name (data.metadataSecretName, fernetKeySecretName, ...).
resource "kubernetes_secret_v1" "airflow" {
  for_each = {
    "airflow-metadata"       = { connection = "postgresql://airflow:${random_password.pg["airflow-db"].result}@${local.pg_host}:5432/airflow?sslmode=require" }
    "airflow-fernet-key"     = { "fernet-key" = "${random_id.fernet.b64_url}=" }
    "airflow-api-secret-key" = { "api-secret-key" = random_password.airflow["api-secret-key"].result }
    "airflow-jwt-secret"     = { "jwt-secret" = random_password.airflow["jwt-secret"].result }
    # SimpleAuthManager's passwords file ({"user": "password"}), copied into the api-server by an init container
    "airflow-admin-password" = { "passwords.json" = jsonencode({ admin = random_password.airflow["admin"].result }) }
  }
  metadata {
    name      = each.key
    namespace = "streamflow-orchestration"
  }
  data       = each.value
  depends_on = [kubectl_manifest.namespaces]
}
