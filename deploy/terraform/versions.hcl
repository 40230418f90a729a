# Every pinned version of the production stack, in one place (read by root.hcl and passed to the modules).
# "checked" = the same version as the schemas vendored in deploy/schemas (validated offline);
# "published" = confirmed as a published release compatible with the rest (source named on the line), not vendored.
locals {
  charts = {
    strimzi_kafka_operator    = "1.2.0"   # checked: Strimzi 1.2.0 CRDs (kafka.strimzi.io/v1 only)
    flink_kubernetes_operator = "1.15.0"  # checked: operator 1.15.0 CRDs (flinkVersion v2_2)
    cloudnative_pg            = "0.29.0"  # published: cloudnative-pg.io/charts index.yaml, appVersion 1.30.0 (the vendored CRDs)
    plugin_barman_cloud       = "0.6.0"   # published: chart released before CNPG 1.30 (plugin needs CNPG >= 1.26; v0.16+ >= 1.30)
    cert_manager              = "v1.21.2" # published: supported release covering Kubernetes 1.35 (1.19 is EOL since 1.21)
    airflow                   = "1.21.0"  # checked: values.schema.json of chart 1.21.0
    kube_prometheus_stack     = "88.5.3"  # checked: values.yaml of 88.5.3 (prometheus-operator 0.93 CRDs)
  }
  repositories = {
    strimzi        = "oci://quay.io/strimzi-helm"
    flink_operator = "https://downloads.apache.org/flink/flink-kubernetes-operator-1.15.0/"
    cnpg           = "https://cloudnative-pg.github.io/charts"
    jetstack       = "https://charts.jetstack.io"
    airflow        = "https://airflow.apache.org"
    prometheus     = "https://prometheus-community.github.io/helm-charts"
  }
  images = {
    flink_job = "ghcr.io/streamflow/streamflow-flink:0.1.0"   # deploy/docker/flink.Dockerfile
    airflow   = "ghcr.io/streamflow/streamflow-airflow:0.1.0" # deploy/docker/airflow.Dockerfile
  }
}
