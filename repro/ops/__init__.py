"""Operations around the stages: what a host needs before a run (preflight, with its probes),
fetching datasets into the image (prefetch), and fetching models (prepare); the self-test; and
what a run will cost before it starts (estimate.py: cost_work.py counts the work, cost_rates.py
prices it, cost_probe.py measures this host)."""
