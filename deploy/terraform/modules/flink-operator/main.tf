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

# Every document of the listed files in deploy/k8s/flink, applied server-side once the operator above runs.
# kubectl_manifest (alekc/kubectl) does not need the CRDs at plan time, so one apply works on a fresh cluster.
data "kubectl_file_documents" "this" {
  for_each = toset(["state-pvc.yaml", "session-cluster.yaml", "transaction-processor.yaml", "fraud-detector.yaml", "realtime-aggregator.yaml"])
  content  = file("${var.k8s_dir}/flink/${each.value}")
}

locals {
  manifests = merge([for f, d in data.kubectl_file_documents.this : d.manifests]...)
}

resource "kubectl_manifest" "this" {
  for_each          = local.manifests
  yaml_body         = each.value
  server_side_apply = true
  wait              = true
  depends_on        = [helm_release.flink_operator]
}
