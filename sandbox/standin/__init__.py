"""A stand-in for the NovaCron API as its users reach it through the ``novacron-api`` Service.

It follows the emulated cluster (which colour the Service selects, which image each pod runs, how many pods
are ready) and serves real HTTP traffic with real PostgreSQL queries, so metric gates, alert rules and
incident runbooks see the consequences of what the runbooks change, plus fault switches for drills.
"""
