# Strimzi cluster operator (watching streamflow-kafka), then the Kafka cluster, its topics (generated from
# config/default.yaml) and users.
resource "helm_release" "strimzi" {
  name       = "strimzi"
  namespace  = "streamflow-kafka"
  repository = var.repositories["strimzi"]
  chart      = "strimzi-kafka-operator"
  version    = var.chart_versions["strimzi_kafka_operator"]
  values     = [file("${var.k8s_dir}/helm-values/strimzi-kafka-operator.yaml")]
  wait       = true
  timeout    = 600
}

# Every document of the listed files in deploy/k8s/kafka, applied server-side once the operator above runs.
# kubectl_manifest (alekc/kubectl) does not need the CRDs at plan time, so one apply works on a fresh cluster.
data "kubectl_file_documents" "this" {
  for_each = toset(["kafka.yaml", "topics.yaml", "users.yaml"])
  content  = file("${var.k8s_dir}/kafka/${each.value}")
}

locals {
  manifests = merge([for f, d in data.kubectl_file_documents.this : d.manifests]...)
}

resource "kubectl_manifest" "this" {
  for_each          = local.manifests
  yaml_body         = each.value
  server_side_apply = true
  wait              = true
  depends_on        = [helm_release.strimzi]
}
