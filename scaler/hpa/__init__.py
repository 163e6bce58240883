"""A port of the Kubernetes HorizontalPodAutoscaler: the replica calculator, the behavior
rules, and the HPA as a policy the twin and the controller share."""
