"""A local Cloudsmith API v1 emulator: the subset cloudsmith-mlflow and Cloudsmith's own
clients (the ``cloudsmith-api`` SDK, ``cloudsmith-cli``) use, persistent on disk.

It is an independent reading of the API (it imports nothing from the rest of
the package besides the CLI wiring), so contract tests compare two readings.

Typical test use::

    from cloudsmith_mlflow.emulator import EmulatorConfig, run_emulator

    with run_emulator(EmulatorConfig(api_key="k", repos=("demo/ml",))) as emulator:
        emulator.url            # http://127.0.0.1:PORT, the API host
        emulator.storage_url    # the presigned-storage stand-in (another port)
        emulator.set_faults(fail_rate=0.2)
        emulator.requests(listener="storage")   # what reached storage, headers included

For restart tests, :func:`start_emulator_process` runs it as a child process.
"""

from __future__ import annotations

from cloudsmith_mlflow.emulator.config import EmulatorConfig, FaultSettings
from cloudsmith_mlflow.emulator.process import EmulatorProcess, start_emulator_process
from cloudsmith_mlflow.emulator.query import QuerySyntaxError, parse_query
from cloudsmith_mlflow.emulator.server import EmulatorHandle, run_emulator
from cloudsmith_mlflow.emulator.state import RequestRecord
from cloudsmith_mlflow.emulator.storage import DataDirInUseError

__all__ = [
    "DataDirInUseError",
    "EmulatorConfig",
    "EmulatorHandle",
    "EmulatorProcess",
    "FaultSettings",
    "QuerySyntaxError",
    "RequestRecord",
    "parse_query",
    "run_emulator",
    "start_emulator_process",
]
