"""Request budget: what an upload and a listing cost in API calls (emulator log)."""

from __future__ import annotations

from pathlib import Path

from tests.rest.conftest import RUN, RUN_PATH, clear_requests, logged_requests, service_for
from tests.support.trees import write_tree

from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore
from cloudsmith_mlflow.emulator import EmulatorHandle

OTHER_RUN = "fedcba9876543210fedcba9876543210"


def test_a_file_upload_costs_two_api_calls_and_one_storage_post(
    emulator: EmulatorHandle, store: CloudsmithRestStore, tmp_path: Path
) -> None:
    """Slot + create on the API, one POST to storage: no validate calls, no polls."""
    source = write_tree(tmp_path, {"model.pkl": b"weights" * 1000}) / "model.pkl"
    clear_requests(emulator)
    service_for(store).log_file(source, RUN_PATH)
    api = [f"{r.method} {r.path}" for r in logged_requests(emulator, listener="api")]
    assert api == ["POST /v1/files/acme/ml/", "POST /v1/packages/acme/ml/upload/raw/"]
    storage = logged_requests(emulator, listener="storage")
    assert [r.method for r in storage] == ["POST"]


def test_listing_a_run_costs_the_same_whatever_else_the_repository_holds(
    emulator: EmulatorHandle, store: CloudsmithRestStore, tmp_path: Path
) -> None:
    """One list call for a run, before and after 510 packages of another run arrive."""
    service = service_for(store)
    clear_requests(emulator)
    service.log_directory(write_tree(tmp_path / "mine", {"a.txt": b"a", "d/b.txt": b"b"}), RUN_PATH)

    def list_calls() -> int:
        clear_requests(emulator)
        assert [e.path for e in service.list_artifacts(RUN_PATH)] == [
            f"{RUN_PATH}/a.txt",
            f"{RUN_PATH}/d",
        ]
        return len(logged_requests(emulator, listener="api"))

    before = list_calls()
    others = {f"f{i:03}.txt": b"x" for i in range(510)}
    service.log_directory(write_tree(tmp_path / "others", others), f"1/{OTHER_RUN}/artifacts")
    assert list_calls() == before == 1
    assert f"run-{RUN}" in logged_requests(emulator, listener="api")[0].path
