"""The scaling runbooks: scale_up, scale_down and the autoscaler policies of auto_scaling."""
