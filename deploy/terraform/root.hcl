# Terragrunt root configuration shared by every unit in environments/*/.
# Units run in the design's dependency order:
#   namespaces -> strimzi-kafka -> flink-operator -> cloudnativepg -> airflow -> monitoring
# (`terragrunt run --all apply` in environments/dev follows the `dependencies` blocks).
locals {
  versions = read_terragrunt_config("${get_parent_terragrunt_dir()}/versions.hcl").locals
  env      = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

# State (it holds every generated password) lives outside the checkout: STREAMFLOW_TF_STATE_DIR, which the deploy
# workflow points at a directory on the node that `actions/checkout` never cleans (mode 0700); a person applying
# by hand gets deploy/terraform/.state (git-ignored). The local backend locks the state file while it applies, and
# the workflow runs one deployment at a time. Swap for an S3 backend with locking when more than one node applies.
remote_state {
  backend = "local"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    path = "${get_env("STREAMFLOW_TF_STATE_DIR", "${get_parent_terragrunt_dir()}/.state")}/${path_relative_to_include()}/terraform.tfstate"
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
