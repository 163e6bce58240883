"""The in-cluster controller: reconcile, spec/CRD, conditions, actuation, finalizer, informer,
leader election, history, and its Kubernetes / Prometheus adapters (kube, prometheus, scrape,
telemetry)."""
