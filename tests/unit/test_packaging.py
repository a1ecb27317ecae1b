"""Packaging promises: light imports, the entry point, the public names."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


def test_importing_the_package_does_not_import_mlflow() -> None:
    """The CLI and emulator start fast: mlflow loads only when the repository is used."""
    code = "import sys, cloudsmith_mlflow, cloudsmith_mlflow.cli; print('mlflow' in sys.modules)"
    assert run_python(code) == "False"


def test_public_names_are_importable() -> None:
    """`from cloudsmith_mlflow import CloudsmithArtifactRepository, InMemoryPackageStore` works."""
    code = (
        "from cloudsmith_mlflow import CloudsmithArtifactRepository, InMemoryPackageStore\n"
        "print(CloudsmithArtifactRepository.__name__, type(InMemoryPackageStore()).__name__)"
    )
    assert run_python(code) == "CloudsmithArtifactRepository InMemoryPackageStore"


def test_the_entry_point_is_declared() -> None:
    """The `cloudsmith` scheme is declared in MLflow's entry-point group."""
    [entry] = [
        e for e in entry_points(group="mlflow.artifact_repository") if e.name == "cloudsmith"
    ]
    assert (
        entry.value == "cloudsmith_mlflow.adapters.mlflow_repository:CloudsmithArtifactRepository"
    )


def test_mlflow_resolves_the_scheme_whichever_is_imported_first() -> None:
    """get_artifact_repository finds our class, with no registration warning, in fresh processes."""
    for first in (
        "import mlflow",
        "import cloudsmith_mlflow",
        "import cloudsmith_mlflow.adapters.mlflow_repository",
    ):
        code = (
            f"{first}\n"
            "from mlflow.store.artifact.artifact_repository_registry import (\n"
            "    get_artifact_repository,\n"
            ")\n"
            "repo = get_artifact_repository('cloudsmith://acme/ml/x')\n"
            "print(type(repo).__module__, type(repo).__name__)"
        )
        assert run_python(code) == (
            "cloudsmith_mlflow.adapters.mlflow_repository CloudsmithArtifactRepository"
        )


def test_the_wheel_ships_one_top_level_package_with_its_entry_points(tmp_path: Path) -> None:
    """The built wheel holds ``cloudsmith_mlflow`` alone (the earlier plugin shipped
    packages named ``plugin`` and ``scripts``), typed, licensed, with the MLflow entry
    point and the console script."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    [wheel] = tmp_path.glob("cloudsmith_mlflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [entry_points_txt] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points_txt).decode()
    assert {name.split("/")[0] for name in names} == {
        "cloudsmith_mlflow",
        entry_points_txt.split("/")[0],
    }
    assert "cloudsmith_mlflow/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert (
        "cloudsmith = cloudsmith_mlflow.adapters.mlflow_repository:CloudsmithArtifactRepository"
        in declared
    )
    assert "cloudsmith-mlflow = cloudsmith_mlflow.cli:main" in declared
