"""Rebuilding the platform's Kubernetes side after a disaster: kept manifests, the last good release."""
