"""Releases of the NovaCron API: the cluster objects, the deployment history, and the release gates."""
