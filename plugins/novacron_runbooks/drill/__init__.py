"""The monthly DR drill: a writer, fault injection, loss measurement and the readiness score."""
