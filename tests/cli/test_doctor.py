"""`cloudsmith-mlflow doctor` against the emulator: each check's status and its fix.

Statuses and fixes are read from ``--json`` (one object per check, the contract
for scripts); the human checklist is checked for showing the same problem and
fix, not for its marks or layout.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result
from tests.cli.support import (
    FULL_KEY,
    OWNER,
    READ_ONLY_KEY,
    REPO,
    REPOSITORY,
    RUN_A,
    URI,
    WRONG_KEY,
    Seeder,
    run_key,
)

from cloudsmith_mlflow import InMemoryPackageStore
from cloudsmith_mlflow.cli import CliContext, main
from cloudsmith_mlflow.domain.errors import PermissionDenied
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.emulator import EmulatorHandle

#: Every check a full run reports, in order.
ALL_CHECKS = [
    "plugin",
    "conflict",
    "api_key",
    "host",
    "key_accepted",
    "repository",
    "writable",
    "rate_limit",
]
KEY_URL = "https://cloudsmith.io/user/settings/api/"
ENTRY_POINT = "plugin.cloudsmith_repository:CloudsmithArtifactRepository"


@attrs.frozen
class Diagnosis:
    """One ``doctor --json`` run: exit code, checks by name (in order), the summary."""

    exit_code: int
    checks: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    output: str

    def status(self, name: str) -> str:
        """The status of check ``name``."""
        return str(self.checks[name]["status"])

    @property
    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [name for name, check in self.checks.items() if check["status"] == "fail"]


def diagnose(runner: CliRunner, *args: str, obj: CliContext | None = None) -> Diagnosis:
    """Run ``doctor --json`` with ``args``; every stdout line must be one JSON object."""
    result = runner.invoke(main, ["doctor", "--json", *args], obj=obj)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    *checks, summary = [json.loads(line) for line in result.stdout.splitlines()]
    return Diagnosis(
        result.exit_code,
        {check["name"]: check for check in checks},
        summary,
        result.stdout + result.stderr,
    )


def checklist(runner: CliRunner, *args: str) -> Result:
    """Run the human ``doctor`` with ``args``."""
    return runner.invoke(main, ["doctor", *args])


def packages_in(emulator: EmulatorHandle, repository: str = f"{OWNER}/{REPO}") -> list[str]:
    """slug_perms of every package in ``repository``."""
    return [package["slug_perm"] for package in emulator.packages(repository)]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.usefixtures("cli_env")
def test_a_good_key_and_repository_pass_every_check_and_leave_no_probe(
    runner: CliRunner, emulator: EmulatorHandle, seeder: Seeder
) -> None:
    """Every check passes (exit 0); the probe was really uploaded and deleted, and the
    repository holds exactly what it held before."""
    [kept] = seeder.artifacts({run_key("1", RUN_A, "model.pkl"): "weights"})
    emulator.clear_requests()

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 0, diagnosis.output
    assert list(diagnosis.checks) == ALL_CHECKS
    assert {name: diagnosis.status(name) for name in ALL_CHECKS} == dict.fromkeys(ALL_CHECKS, "ok")
    assert diagnosis.summary == {"summary": True, "ok": True, "failed": []}
    assert "1 MLflow package" in diagnosis.checks["repository"]["detail"]
    created = emulator.requests(method="POST", path_contains="/upload/raw/")
    deleted = emulator.requests(method="DELETE", path_contains=f"/packages/{OWNER}/{REPO}/")
    assert len(created) == len(deleted) == 1
    assert packages_in(emulator) == [kept.slug_perm]

    human = checklist(runner, URI)
    assert human.exit_code == 0, human.output
    assert "All checks passed" in human.stdout
    assert packages_in(emulator) == [kept.slug_perm]


@pytest.mark.usefixtures("cli_env")
def test_a_wrong_key_is_reported_as_rejected_with_the_fix_and_never_printed(
    runner: CliRunner, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected key fails its check (exit 1) with where to get a valid one; the
    repository checks are skipped and the key appears nowhere in the output."""
    monkeypatch.setenv("CLOUDSMITH_API_KEY", WRONG_KEY)

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["key_accepted"]
    key_check = diagnosis.checks["key_accepted"]
    assert "rejected CLOUDSMITH_API_KEY" in key_check["detail"]
    assert KEY_URL in key_check["fix"]
    assert (diagnosis.status("repository"), diagnosis.status("writable")) == ("skip", "skip")
    assert diagnosis.summary["failed"] == ["key_accepted"]
    assert WRONG_KEY not in diagnosis.output

    human = checklist(runner, URI)
    assert human.exit_code == 1
    assert "Cloudsmith rejected CLOUDSMITH_API_KEY" in human.stdout
    assert KEY_URL in human.stdout
    assert WRONG_KEY not in human.stdout + human.stderr
    assert "Traceback" not in human.output
    assert packages_in(emulator) == []


@pytest.mark.usefixtures("cli_env")
def test_an_unknown_repository_is_named_with_the_fix(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    """A repository the key cannot see fails (exit 1), names OWNER/REPO and says to check
    the slugs; the write check is skipped, so nothing is uploaded anywhere."""
    diagnosis = diagnose(runner, f"cloudsmith://{OWNER}/no-such-repo")

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["repository"]
    repository = diagnosis.checks["repository"]
    assert f"{OWNER}/no-such-repo" in repository["detail"]
    assert "slugs" in repository["fix"]
    assert diagnosis.status("key_accepted") == "ok"
    assert diagnosis.status("writable") == "skip"
    assert emulator.requests(method="POST") == []

    human = checklist(runner, f"cloudsmith://{OWNER}/no-such-repo")
    assert human.exit_code == 1
    assert f"{OWNER}/no-such-repo" in human.stdout
    assert "check the owner and repository slugs" in human.stdout


@pytest.mark.usefixtures("cli_env")
def test_a_read_only_key_fails_the_write_check_with_the_fix_and_leaves_nothing(
    runner: CliRunner, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, seeder: Seeder
) -> None:
    """A key that reads but cannot write passes the key and repository checks, fails the
    write check (exit 1) saying it cannot write and what access it needs, and leaves the
    repository as it was."""
    [kept] = seeder.artifacts({run_key("1", RUN_A, "a.txt"): "a"})
    monkeypatch.setenv("CLOUDSMITH_API_KEY", READ_ONLY_KEY)

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["writable"]
    assert (diagnosis.status("key_accepted"), diagnosis.status("repository")) == ("ok", "ok")
    writable = diagnosis.checks["writable"]
    assert "not write" in writable["detail"]
    assert "read-only" in writable["detail"]
    assert "Write" in writable["fix"]
    assert READ_ONLY_KEY not in diagnosis.output
    assert packages_in(emulator) == [kept.slug_perm]

    human = checklist(runner, URI)
    assert human.exit_code == 1
    assert f"the key may read but not write {OWNER}/{REPO}" in human.stdout
    assert "Write (or Admin) access" in human.stdout
    assert packages_in(emulator) == [kept.slug_perm]


@pytest.mark.usefixtures("cli_env")
def test_a_missing_key_names_cloudsmith_api_key(
    runner: CliRunner, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without CLOUDSMITH_API_KEY the key check fails naming the variable and how to set
    it; the host is still checked, and the checks needing a key say so when skipped."""
    monkeypatch.delenv("CLOUDSMITH_API_KEY")

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["api_key"]
    assert "CLOUDSMITH_API_KEY" in diagnosis.checks["api_key"]["detail"]
    assert "export CLOUDSMITH_API_KEY=" in diagnosis.checks["api_key"]["fix"]
    assert diagnosis.status("host") == "ok"
    for name in ("key_accepted", "repository", "writable", "rate_limit"):
        assert diagnosis.status(name) == "skip"
        assert "CLOUDSMITH_API_KEY" in diagnosis.checks[name]["detail"]
    assert emulator.requests(path_contains="/user/self/") == []


@pytest.mark.usefixtures("cli_env")
def test_an_unreachable_host_is_one_failure_naming_it_and_later_checks_are_skipped(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host nobody listens on fails the host check once, naming the host and
    CLOUDSMITH_API_HOST; every check after it is skipped, not failed again."""
    host = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("CLOUDSMITH_API_HOST", host)

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["host"]
    assert host in diagnosis.checks["host"]["detail"]
    assert "CLOUDSMITH_API_HOST" in diagnosis.checks["host"]["fix"]
    assert [diagnosis.status(name) for name in ALL_CHECKS[4:]] == ["skip"] * 4

    human = checklist(runner, URI)
    assert human.exit_code == 1
    assert len([line for line in human.stdout.splitlines() if host in line]) == 1
    assert "CLOUDSMITH_API_HOST" in human.stdout
    assert FULL_KEY not in human.output


@pytest.mark.usefixtures("cli_env")
def test_a_host_that_is_not_the_api_fails_once_with_the_fix(
    runner: CliRunner, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CLOUDSMITH_API_HOST with a stray /v1 is reported as it was set, with the fix, and
    the checks after it are skipped instead of failing with a misleading fix."""
    monkeypatch.setenv("CLOUDSMITH_API_HOST", f"{emulator.url}/v1")

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["host"]
    assert f"{emulator.url}/v1" in diagnosis.checks["host"]["detail"]
    assert "without /v1" in diagnosis.checks["host"]["fix"]
    assert [diagnosis.status(name) for name in ALL_CHECKS[4:]] == ["skip"] * 4


@pytest.mark.usefixtures("cli_env")
def test_json_prints_one_object_per_check_then_a_summary(runner: CliRunner) -> None:
    """``--json`` writes only JSON lines: one per check (name, status, detail, fix), each
    check once, then a summary naming the failed checks."""
    result = runner.invoke(main, ["doctor", "--json", f"cloudsmith://{OWNER}/no-such-repo"])
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    *checks, summary = objects

    assert [check["name"] for check in checks] == ALL_CHECKS
    for check in checks:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in {"ok", "fail", "warn", "skip"}
        assert check["detail"]
        if check["status"] == "fail":
            assert check["fix"]
    assert summary == {"summary": True, "ok": False, "failed": ["repository"]}
    assert result.exit_code == 1


@pytest.mark.usefixtures("cli_env")
def test_without_a_repository_only_the_key_host_and_plugins_are_checked(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    """``doctor`` alone checks key, host and plugins, says how to check a repository, and
    uploads nothing."""
    diagnosis = diagnose(runner)

    assert diagnosis.exit_code == 0, diagnosis.output
    assert diagnosis.status("key_accepted") == "ok"
    assert diagnosis.status("repository") == "skip"
    assert "cloudsmith://OWNER/REPO" in diagnosis.checks["repository"]["fix"]
    assert "writable" not in diagnosis.checks
    assert emulator.requests(method="POST") == []


@pytest.mark.usefixtures("cli_env")
def test_the_rate_limit_line_reports_the_remaining_calls_the_emulator_reports(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    """The calls left are the emulator's count after doctor's own keyed requests."""
    emulator.set_faults(rate_limit=1000)

    diagnosis = diagnose(runner, "--no-write", URI)

    keyed = [
        request
        for request in emulator.requests(listener="api")
        if request.path.startswith("/v1/") and request.carries(FULL_KEY)
    ]
    assert keyed  # doctor asked with the key
    found = re.search(
        r"([\d,]+) of ([\d,]+) API calls left", diagnosis.checks["rate_limit"]["detail"]
    )
    assert found is not None, diagnosis.checks["rate_limit"]
    remaining, limit = (int(group.replace(",", "")) for group in found.groups())
    assert (remaining, limit) == (1000 - len(keyed), 1000)
    assert diagnosis.status("rate_limit") == "ok"
    assert diagnosis.exit_code == 0


@pytest.mark.usefixtures("cli_env")
def test_few_calls_left_is_a_warning_with_the_fix_not_a_failure(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    """Under 100 calls left warns (uploads will be throttled) and says what to do; the
    exit code stays 0."""
    emulator.set_faults(rate_limit=50)

    diagnosis = diagnose(runner, "--no-write", URI)

    assert diagnosis.status("rate_limit") == "warn"
    assert "throttled" in diagnosis.checks["rate_limit"]["detail"]
    assert "wait for the reset" in diagnosis.checks["rate_limit"]["fix"]
    assert diagnosis.exit_code == 0


def fake_distribution(root: Path, name: str, version: str, entry_point: str | None) -> Path:
    """A distribution's metadata (``dist-info``) below ``root``, as pip would leave it."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_point is not None:
        (info / "entry_points.txt").write_text(
            f"[mlflow.artifact_repository]\ncloudsmith = {entry_point}\n"
        )
    return root


@pytest.mark.usefixtures("cli_env")
def test_the_earlier_plugin_installed_beside_this_one_is_a_warning_with_the_fix(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The earlier ``mlflow-cloudsmith`` claiming cloudsmith:// too is a warning naming it
    and its version, reported once, with ``pip uninstall mlflow-cloudsmith``; this plugin
    is still found and the exit code stays 0."""
    site = fake_distribution(tmp_path / "site", "mlflow-cloudsmith", "0.0.1", ENTRY_POINT)
    monkeypatch.syspath_prepend(str(site))

    diagnosis = diagnose(runner)

    assert diagnosis.status("plugin") == "ok"
    conflict = diagnosis.checks["conflict"]
    assert conflict["status"] == "warn"
    assert "mlflow-cloudsmith 0.0.1" in conflict["detail"]
    assert "claims cloudsmith://" in conflict["detail"]
    assert conflict["detail"].count("mlflow-cloudsmith") == 1  # one plugin, named once
    assert conflict["fix"] == "pip uninstall mlflow-cloudsmith"
    assert diagnosis.exit_code == 0

    human = checklist(runner)
    assert "mlflow-cloudsmith 0.0.1" in human.stdout
    assert "pip uninstall mlflow-cloudsmith" in human.stdout


@pytest.mark.usefixtures("cli_env")
def test_another_package_claiming_the_scheme_is_named_in_the_warning(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Any other distribution declaring the ``cloudsmith`` scheme is named with its entry
    point and the uninstall to run."""
    site = fake_distribution(tmp_path / "site", "acme-artifacts", "2.0", "acme.repo:Repo")
    monkeypatch.syspath_prepend(str(site))

    conflict = diagnose(runner).checks["conflict"]

    assert conflict["status"] == "warn"
    assert "acme-artifacts" in conflict["detail"]
    assert "acme.repo:Repo" in conflict["detail"]
    assert conflict["fix"] == "pip uninstall acme-artifacts"


@pytest.mark.usefixtures("cli_env")
def test_a_probe_that_cannot_be_deleted_is_reported_with_the_package_to_remove(
    runner: CliRunner, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When deleting the probe fails, the write check fails naming the package left behind,
    and that package is the one still in the repository."""
    monkeypatch.setenv("CLOUDSMITH_MAX_RETRIES", "0")
    emulator.set_faults(fault_filter=r"^DELETE /v1/packages/", fail_rate=1.0)

    diagnosis = diagnose(runner, URI)

    assert diagnosis.exit_code == 1
    assert diagnosis.failed == ["writable"]
    assert "delete failed" in diagnosis.checks["writable"]["detail"]
    [left] = packages_in(emulator)
    assert f"delete the probe package {left} by hand" in diagnosis.checks["writable"]["fix"]


class RefusesDeletes(InMemoryPackageStore):
    """A store whose key may upload but not delete (the emulator has no such key)."""

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        raise PermissionDenied("Cloudsmith refused the request (HTTP 403): no delete access")


def test_a_key_that_may_upload_but_not_delete_is_not_called_read_only(
    runner: CliRunner,
) -> None:
    """A refused delete after a good upload says deletions will fail and names the probe
    to remove, instead of claiming the key is read-only."""
    store = RefusesDeletes()

    diagnosis = diagnose(runner, URI, obj=CliContext(store=store))

    assert diagnosis.exit_code == 1
    writable = diagnosis.checks["writable"]
    assert writable["status"] == "fail"
    assert "read-only" not in writable["detail"]
    assert "may not remove" in writable["detail"]
    [left] = store.packages(REPOSITORY)
    assert left.slug_perm in writable["fix"]
