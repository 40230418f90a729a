output "applied" {
  description = "Kind/name of every manifest applied."
  value       = sort([for m in kubectl_manifest.this : "${m.kind}/${m.name}"])
}
