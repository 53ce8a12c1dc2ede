"""Plumbing every app shares: the application error type, leases on work that workers claim by heartbeat,
the beat task that requeues lost work and the broker reader it uses."""
