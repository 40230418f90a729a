variable "files" {
  description = "Absolute paths of the deploy/k8s files whose every YAML document is applied."
  type        = list(string)
  validation {
    condition     = length(var.files) > 0 && alltrue([for f in var.files : endswith(f, ".yaml")])
    error_message = "files must be a non-empty list of .yaml files."
  }
}

variable "template_vars" {
  description = "Files of `files` that are Terraform templates (path -> their variables); the others are applied as they are."
  type        = map(map(string))
  default     = {}
}
