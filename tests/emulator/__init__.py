"""Tests of the local Cloudsmith API emulator (cloudsmith_mlflow.emulator)."""
