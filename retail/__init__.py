"""The twin's counterpart: a small retail app that runs on a real node (frontend -> checkout ->
payment over HTTP, each burning CPU per request and starting up before it is ready) and an
open-loop load generator that plays an arrival schedule against it.

Pure: `arrivals` (rate schedules, arrival times), `latency` (a log-bucketed histogram and its
percentiles), `balancer` (least-outstanding-requests choice). Adapters: `app` (the HTTP service),
`endpoints` (ready endpoints from the Kubernetes API), `loadgen` (the HTTP sender).
"""
