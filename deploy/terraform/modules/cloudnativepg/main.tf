# cert-manager (for the plugin's TLS), the CloudNativePG operator and its Barman Cloud plugin in streamflow-data,
# then the PostgreSQL cluster, the Airflow database, the object store and the nightly backup.
resource "helm_release" "cert_manager" {
  name             = "cert-manager"
  namespace        = "cert-manager"
  create_namespace = true
  repository       = var.repositories["jetstack"]
  chart            = "cert-manager"
  version          = var.chart_versions["cert_manager"]
  values           = [file("${var.k8s_dir}/helm-values/cert-manager.yaml")]
  wait             = true
}

resource "helm_release" "cnpg" {
  name       = "cnpg"
  namespace  = "streamflow-data"
  repository = var.repositories["cnpg"]
  chart      = "cloudnative-pg"
  version    = var.chart_versions["cloudnative_pg"]
  values     = [file("${var.k8s_dir}/helm-values/cloudnative-pg.yaml")]
  wait       = true
}

resource "helm_release" "barman_cloud" {
  name       = "barman-cloud"
  namespace  = "streamflow-data"
  repository = var.repositories["cnpg"]
  chart      = "plugin-barman-cloud"
  version    = var.chart_versions["plugin_barman_cloud"]
  values     = [file("${var.k8s_dir}/helm-values/plugin-barman-cloud.yaml")]
  wait       = true
  depends_on = [helm_release.cert_manager, helm_release.cnpg]
}

# Every document of these deploy/k8s/postgres files, applied server-side once the operator above runs.
module "manifests" {
  source = "../manifests"
  files = [
    "${var.k8s_dir}/postgres/cluster.yaml",
    "${var.k8s_dir}/postgres/backup-store.yaml",
    "${var.k8s_dir}/postgres/migrate-job.yaml",
  ]
  # the backup store's endpoint and bucket are this environment's (variables.tf: no placeholder gets applied)
  template_vars = {
    "${var.k8s_dir}/postgres/backup-store.yaml" = {
      backup_endpoint    = var.backup_endpoint
      backup_destination = var.backup_destination
    }
  }
  depends_on = [helm_release.barman_cloud]
}

