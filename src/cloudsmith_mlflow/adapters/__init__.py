"""Adapters: the package stores (Cloudsmith REST, in-memory), MLflow, run context."""
