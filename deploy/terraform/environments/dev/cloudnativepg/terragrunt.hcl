# Unit `cloudnativepg` of the dev environment (see ../../../root.hcl for the order).
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}/deploy/terraform/modules//cloudnativepg"
}

dependencies {
  paths = ["../flink-operator"]
}

# where the backups go: no default endpoint; unset or a placeholder, the module's validation stops the apply
inputs = {
  backup_endpoint    = get_env("STREAMFLOW_BACKUP_ENDPOINT")
  backup_destination = get_env("STREAMFLOW_BACKUP_DESTINATION", "s3://streamflow-backups/pg")
}
