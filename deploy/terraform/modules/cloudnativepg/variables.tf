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

variable "backup_endpoint" {
  description = "URL of the S3-compatible store the backups go to (off the node)."
  type        = string
  validation {
    condition     = can(regex("^https?://[^/]+", var.backup_endpoint)) && !can(regex("\\.(invalid|example)(/|$)", var.backup_endpoint))
    error_message = "backup_endpoint must be the URL of a real S3-compatible endpoint (set STREAMFLOW_BACKUP_ENDPOINT)."
  }
}

variable "backup_destination" {
  description = "Bucket and prefix of the backups, e.g. s3://streamflow-backups/pg."
  type        = string
  validation {
    condition     = can(regex("^s3://[^/]+", var.backup_destination))
    error_message = "backup_destination must be an s3://bucket[/prefix] URL (set STREAMFLOW_BACKUP_DESTINATION)."
  }
}
