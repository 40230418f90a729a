# Unit `airflow` of the dev environment (see ../../../root.hcl for the order).
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}/deploy/terraform/modules//airflow"
}

dependencies {
  paths = ["../cloudnativepg"]
}
