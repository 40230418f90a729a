# Flink Kubernetes Operator (watching streamflow-processing), then the state volume, the session cluster and the
# three session jobs (the operator submits a job once its session cluster is ready).
resource "helm_release" "flink_operator" {
  name       = "flink-kubernetes-operator"
  namespace  = "streamflow-processing"
  repository = var.repositories["flink_operator"]
  chart      = "flink-kubernetes-operator"
  version    = var.chart_versions["flink_kubernetes_operator"]
  values     = [file("${var.k8s_dir}/helm-values/flink-kubernetes-operator.yaml")]
  wait       = true
  timeout    = 600
}

# Every document of these deploy/k8s/flink files, applied server-side once the operator above runs.
module "manifests" {
  source = "../manifests"
  files = [
    "${var.k8s_dir}/flink/state-pvc.yaml",
    "${var.k8s_dir}/flink/session-cluster.yaml",
    "${var.k8s_dir}/flink/transaction-processor.yaml",
    "${var.k8s_dir}/flink/fraud-detector.yaml",
    "${var.k8s_dir}/flink/realtime-aggregator.yaml",
  ]
  depends_on = [helm_release.flink_operator]
}
