"""Service level objectives the way the SRE world computes them: ratio SLIs from Prometheus
counters and histogram buckets, error budgets, burn rates and multiwindow multi-burn-rate alerts
(the Google SRE workbook, chapter 5; Pyrra and Sloth generate the same shape of rules).

Pure: no web framework, no Kubernetes client, no network.
"""
