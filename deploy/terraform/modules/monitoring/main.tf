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

# Every document of these deploy/k8s/monitoring files, applied server-side once the operator above runs.
module "manifests" {
  source = "../manifests"
  files = [
    "${var.k8s_dir}/monitoring/podmonitors.yaml",
    "${var.k8s_dir}/monitoring/prometheusrule.yaml",
    "${var.k8s_dir}/monitoring/dashboards.yaml",
  ]
  depends_on = [helm_release.kube_prometheus_stack]
}
