variable "k8s_dir" {
  description = "Absolute path of deploy/k8s: manifests and Helm values (the single source the offline validator checks)."
  type        = string
}

variable "chart_versions" {
  description = "Pinned Helm chart versions (deploy/terraform/versions.hcl)."
  type        = map(string)
}

variable "repositories" {
  description = "Helm repositories by name (deploy/terraform/versions.hcl)."
  type        = map(string)
}
