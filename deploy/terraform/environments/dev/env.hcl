# The single-node K3s target (4 CPU, 9.7 GB). Point kubeconfig at the copy of /etc/rancher/k3s/k3s.yaml.
locals {
  environment  = "dev"
  kubeconfig   = get_env("KUBECONFIG", "~/.kube/streamflow-k3s.yaml")
  kube_context = get_env("STREAMFLOW_KUBE_CONTEXT", "default")
}
