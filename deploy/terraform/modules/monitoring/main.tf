# kube-prometheus-stack (Prometheus, Alertmanager, Grafana with the dashboard sidecar, kube-state-metrics,
# node-exporter), then StreamFlow's PodMonitors, alert rules and dashboards.
resource "helm_release" "kube_prometheus_stack" {
  name       = "kube-prometheus-stack"
  namespace  = "streamflow-monitoring"
  repository = var.repositories["prometheus"]
  chart      = "kube-prometheus-stack"
  version    = var.chart_versions["kube_prometheus_stack"]
  values     = [file("${var.k8s_dir}/helm-values/kube-prometheus-stack.yaml")]
  wait       = true
  timeout    = 900
}

# Every document of the listed files in deploy/k8s/monitoring, applied server-side once the operator above runs.
# kubectl_manifest (alekc/kubectl) does not need the CRDs at plan time, so one apply works on a fresh cluster.
data "kubectl_file_documents" "this" {
  for_each = toset(["podmonitors.yaml", "prometheusrule.yaml", "dashboards.yaml"])
  content  = file("${var.k8s_dir}/monitoring/${each.value}")
}

locals {
  manifests = merge([for f, d in data.kubectl_file_documents.this : d.manifests]...)
}

resource "kubectl_manifest" "this" {
  for_each          = local.manifests
  yaml_body         = each.value
  server_side_apply = true
  wait              = true
  depends_on        = [helm_release.kube_prometheus_stack]
}
