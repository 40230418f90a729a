output "applied" {
  description = "Kind/name of every manifest this unit applied."
  value       = module.manifests.applied
}
