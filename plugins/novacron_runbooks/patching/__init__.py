"""Security patching: which workloads run an affected image, the plan, the rolling updates and their proof."""
