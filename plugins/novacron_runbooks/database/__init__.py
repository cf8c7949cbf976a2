"""The database topology: which node is primary, failover, fencing, repointing the application."""
