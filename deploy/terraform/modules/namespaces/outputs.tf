output "namespaces" {
  description = "The namespaces this unit created."
  value       = sort([for m in kubectl_manifest.namespaces : m.name])
}
