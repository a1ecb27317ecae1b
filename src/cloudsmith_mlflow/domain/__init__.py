"""The pure domain: artifact paths and keys, MLflow layouts, the package
representation and its inverse, and the artifact index. No I/O, no mlflow."""
