# Strimzi cluster operator (watching streamflow-kafka), then the Kafka cluster, its topics (generated from
# config/default.yaml). No KafkaUsers: no client authenticates yet (deploy/k8s/kafka/kafka.yaml).
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

# Every document of these deploy/k8s/kafka files, applied server-side once the operator above runs.
module "manifests" {
  source = "../manifests"
  files = [
    "${var.k8s_dir}/kafka/kafka.yaml",
    "${var.k8s_dir}/kafka/topics.yaml",
  ]
  depends_on = [helm_release.strimzi]
}
