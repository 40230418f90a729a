output "release" {
  description = "Name and chart version of the Airflow release."
  value       = "${helm_release.airflow.name}@${helm_release.airflow.version}"
}
