# Terragrunt root configuration shared by every unit in environments/*/.
# Units run in the design's dependency order:
#   namespaces -> strimzi-kafka -> flink-operator -> cloudnativepg -> airflow -> monitoring
# (`terragrunt run --all apply` in environments/dev follows the `dependencies` blocks).
locals {
  versions = read_terragrunt_config("${get_parent_terragrunt_dir()}/versions.hcl").locals
  env      = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

# State stays on the operator's machine next to the code (single node, single operator); swap for an S3 backend
# when more than one person applies.
remote_state {
  backend = "local"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    path = "${get_parent_terragrunt_dir()}/.state/${path_relative_to_include()}/terraform.tfstate"
  }
}

generate "providers" {
  path      = "providers.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOT
    provider "kubernetes" {
      config_path    = "${local.env.kubeconfig}"
      config_context = "${local.env.kube_context}"
    }
    provider "helm" {
      kubernetes = {
        config_path    = "${local.env.kubeconfig}"
        config_context = "${local.env.kube_context}"
      }
    }
    provider "kubectl" {
      config_path      = "${local.env.kubeconfig}"
      config_context   = "${local.env.kube_context}"
      load_config_file = true
    }
  EOT
}

inputs = {
  k8s_dir      = "${get_repo_root()}/deploy/k8s"
  chart_versions = local.versions.charts
  repositories = local.versions.repositories
}
