"""`tongxin ops`: status, department provisioning and rollouts on a Kubernetes cluster."""
