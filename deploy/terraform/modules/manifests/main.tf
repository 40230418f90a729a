# Applies every YAML document of the given files with server-side apply (alekc/kubectl: no CRD is needed at plan
# time, so the operators' custom resources plan on a fresh cluster). Ordering is the caller's: it passes
# `depends_on = [<the helm_release of the operator that serves these kinds>]` on the module block.
#
# The documents are split and keyed with plain functions rather than the kubectl_file_documents data source:
# under a module-level depends_on Terraform defers data sources to apply time, which would leave the for_each
# keys below unknown at plan. Functions of file() are known at plan, whatever the module depends on.
locals {
  # a template's `${...}` are filled from its template_vars; every other file is read as it is
  texts = { for path in var.files : path => contains(keys(var.template_vars), path) ? templatefile(path, var.template_vars[path]) : file(path) }
  documents = flatten([
    for path in var.files : [
      for doc in split("\n---\n", "\n${local.texts[path]}\n") : {
        path = path
        body = trimspace(doc)
        obj  = yamldecode(doc)
      } if yamldecode(doc) != null # the comment-only head of a file is no manifest
    ]
  ])
  # one stable key per object (kind/namespace/name), independent of the file order and of the document order
  manifests = {
    for d in local.documents :
    "${d.obj.kind}/${try(d.obj.metadata.namespace, "_cluster")}/${d.obj.metadata.name}" => d.body
  }
}

resource "kubectl_manifest" "this" {
  for_each          = local.manifests
  yaml_body         = each.value
  server_side_apply = true
  wait              = true
}
