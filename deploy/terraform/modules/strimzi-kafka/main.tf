# Strimzi cluster operator (watching streamflow-kafka), then the Kafka cluster, its topics and its users (both
# generated from config/default.yaml; the users' passwords are Secrets of the namespaces unit), and a copy of the
# cluster CA's certificate for the clients' namespaces.
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
    "${var.k8s_dir}/kafka/users.yaml",
  ]
  depends_on = [helm_release.strimzi]
}

# The clients verify the broker's TLS certificate against Strimzi's cluster CA. Its certificate (public) lives in
# streamflow-kafka, and a pod reads Secrets of its own namespace only: copy it to the clients' namespaces once the
# cluster is Ready. Strimzi renews the CA before it expires (365 days by default): re-apply this unit after a
# renewal (docs/DEPLOY.md "Kafka users").
resource "terraform_data" "kafka_ready" {
  triggers_replace = [sha256(file("${var.k8s_dir}/kafka/kafka.yaml"))]
  provisioner "local-exec" {
    command = "kubectl -n streamflow-kafka wait kafka/streamflow --for=condition=Ready --timeout=15m"
  }
  depends_on = [module.manifests]
}

data "kubernetes_secret_v1" "cluster_ca" {
  metadata {
    name      = "streamflow-cluster-ca-cert"
    namespace = "streamflow-kafka"
  }
  depends_on = [terraform_data.kafka_ready]
}

resource "kubernetes_secret_v1" "kafka_ca" {
  for_each = toset(["streamflow-processing", "streamflow-orchestration"])
  metadata {
    name      = "streamflow-kafka-ca"
    namespace = each.key
  }
  data = { "ca.crt" = data.kubernetes_secret_v1.cluster_ca.data["ca.crt"] }
}
