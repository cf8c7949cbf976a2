"""Read-only diagnostics shared by the troubleshooting runbooks: PromQL panels, their plots, findings."""
