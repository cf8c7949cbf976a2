"""An emulated Kubernetes API server for the sandbox.

No real kube-apiserver can be installed on the sandbox machines, so this package serves the subset of the
API the runbooks use (core/v1, apps/v1, autoscaling/v2, coordination.k8s.io/v1, batch/v1) over plain HTTP,
with the semantics the official clients rely on: resourceVersion conflicts, the three patch flavours,
selectors, watch, and small controllers that turn Deployments into ready Pods.
"""
