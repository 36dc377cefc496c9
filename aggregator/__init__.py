"""The live aggregator: events in, Prometheus metrics out."""
