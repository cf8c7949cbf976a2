"""Live PostgreSQL sessions: what they wait on, who blocks whom, and signalling the ones a policy names."""
