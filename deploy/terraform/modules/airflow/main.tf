# Apache Airflow (official chart, LocalExecutor) against the `airflow` database of the CloudNativePG cluster.
resource "helm_release" "airflow" {
  name       = "airflow"
  namespace  = "streamflow-orchestration"
  repository = var.repositories["airflow"]
  chart      = "airflow"
  version    = var.chart_versions["airflow"]
  values     = [file("${var.k8s_dir}/airflow/values.yaml")]
  wait       = true
  timeout    = 900 # the migration job runs first
}
