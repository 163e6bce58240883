"""`edgewise serve`: the HTTP API under /api/v1 and the dashboard, one FastAPI application.

The only package that imports fastapi. Its adapters read Prometheus (`prometheus_source.py`),
the Kubernetes API (`cluster.py`, `kube_auth.py`) and its own store (`store.py`, SQLAlchemy 2
with Alembic migrations).
"""
