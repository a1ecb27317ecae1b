"""``cloudsmith-mlflow doctor``: a checklist of what MLflow needs from Cloudsmith.

Each check prints ✓ (passed), ✗ (failed, with the fix), ! (a warning) or -
(skipped because an earlier check failed). Checks: the plugin is registered
with MLflow and the earlier ``mlflow-cloudsmith`` plugin is not installed too;
the API key is set; the API host answers; the key is accepted; the repository
exists; it is writable (a tiny probe package uploaded, downloaded, verified and
deleted); the API calls left before Cloudsmith's rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
import click

from cloudsmith_mlflow.cli._context import CliContext, cli_context, parse_uri, resolve_repository
from cloudsmith_mlflow.cli._errors import EXIT_FAILURE, describe_error, handle_errors
from cloudsmith_mlflow.cli._output import can_print, emit_json, info
from cloudsmith_mlflow.domain.errors import CloudsmithMlflowError, PermissionDenied
from cloudsmith_mlflow.domain.uri import ArtifactLocation, RepositoryRef
from cloudsmith_mlflow.settings import Settings

#: Our own entry point for the ``cloudsmith`` scheme.
ENTRY_POINT_GROUP = "mlflow.artifact_repository"
OUR_MODULE = "cloudsmith_mlflow."
EARLIER_DISTRIBUTION = "mlflow-cloudsmith"
KEY_URL = "https://cloudsmith.io/user/settings/api/"

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"
#: What each check is about, for lines that say it was skipped.
LABELS = {
    "plugin": "MLflow plugin",
    "conflict": "other plugins",
    "api_key": "API key",
    "host": "API host",
    "key_accepted": "API key accepted",
    "repository": "repository",
    "writable": "write access",
    "rate_limit": "rate limit",
}
_MARKS = {OK: ("✓", "OK"), FAIL: ("✗", "FAIL"), WARN: ("!", "WARN"), SKIP: ("-", "SKIP")}


@attrs.frozen
class Check:
    """One line of the checklist: ``status`` is ok, fail, warn or skip."""

    name: str
    status: str
    detail: str
    fix: str = ""


@click.command("doctor")
@click.argument("uri", callback=parse_uri, required=False, metavar="[cloudsmith://OWNER/REPO]")
@click.option("--owner", envvar="CLOUDSMITH_OWNER", help="Owner slug (instead of the URI).")
@click.option("--repo", envvar="CLOUDSMITH_REPO", help="Repository slug (instead of the URI).")
@click.option(
    "--no-write", is_flag=True, help="Skip the write check (no probe package is uploaded)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
@click.pass_context
@handle_errors
def doctor_command(
    ctx: click.Context,
    uri: ArtifactLocation | None,
    owner: str | None,
    repo: str | None,
    no_write: bool,
    as_json: bool,
) -> None:
    """Check the setup: key, host, repository, write access, rate limit, plugins.

    Prints a checklist with the fix for every failed check. Without a
    repository only the key, the host and the installed plugins are checked.
    The write check uploads a tiny probe package (not tagged mlflow, so MLflow
    never sees it), downloads and verifies it, then deletes it; on Cloudsmith
    this waits for the package to be processed, usually under a minute.

    \b
    Examples:
      cloudsmith-mlflow doctor
      cloudsmith-mlflow doctor cloudsmith://acme/ml-artifacts
      CLOUDSMITH_API_HOST=http://127.0.0.1:8765 cloudsmith-mlflow doctor cloudsmith://demo/ml --json

    \b
    Environment: CLOUDSMITH_API_KEY, CLOUDSMITH_API_HOST, CLOUDSMITH_OWNER,
    CLOUDSMITH_REPO, CLOUDSMITH_TRUSTED_HOSTS.

    \b
    Exit codes: 0 every check passed (warnings allowed), 1 a check failed,
    2 usage.
    """
    location = resolve_repository(ctx, uri, owner, repo, required=False)
    repository = location.repository if location else None
    context = cli_context(ctx)
    settings = context.get_settings()
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        if as_json:
            emit_json(attrs.asdict(check))
        else:
            _print_check(check)

    run_checks(context, settings, repository, write=not no_write, report=report)
    failed = [check for check in checks if check.status == FAIL]
    if as_json:
        emit_json({"summary": True, "ok": not failed, "failed": [check.name for check in failed]})
    elif failed:
        info(f"\n{len(failed)} check(s) failed: see the fixes above.")
    else:
        info("\nAll checks passed.")
    if failed:
        ctx.exit(EXIT_FAILURE)


def run_checks(
    context: CliContext,
    settings: Settings,
    repository: RepositoryRef | None,
    *,
    write: bool,
    report: Callable[[Check], None],
) -> None:
    """Run every check in order, reporting each as soon as it is known."""
    for check in plugin_checks():
        report(check)
    if context.injected_store:
        # A store handed in by the caller (tests, embedding tools): only the write
        # check means anything; the REST checks would talk to a host it does not use.
        if repository is not None and write:
            report(_write_check(context, repository))
        return
    if settings.api_key is None:
        report(
            Check(
                "api_key",
                FAIL,
                "CLOUDSMITH_API_KEY is not set",
                f"export CLOUDSMITH_API_KEY=<your key> (create one at {KEY_URL})",
            )
        )
    else:
        report(Check("api_key", OK, "CLOUDSMITH_API_KEY is set"))
    from cloudsmith_mlflow.adapters.rest.diagnostics import Diagnostics, check_reachable

    host = _display_host(settings.api_host)
    reached = check_reachable(settings)
    if not reached.reached:
        report(
            Check(
                "host",
                FAIL,
                f"cannot reach the API host {host} ({reached.error})",
                "check CLOUDSMITH_API_HOST (scheme + host[:port], e.g. https://api.cloudsmith.io), "
                "the network, proxies and firewalls",
            )
        )
    elif reached.status in (200, 401, 403):
        report(Check("host", OK, f"the API host {host} answers"))
    else:
        report(
            Check(
                "host",
                FAIL,
                f"{host} answered HTTP {reached.status} to /v1/status/check/basic/ "
                f"({reached.detail or 'not a Cloudsmith API'})",
                "set CLOUDSMITH_API_HOST to the Cloudsmith API's scheme + host[:port], "
                "without /v1 (default https://api.cloudsmith.io)",
            )
        )
    skipped = "skipped: needs " + ("a reachable API host" if not reached.reached else "a valid key")
    if settings.api_key is None or not reached.reached:
        report(Check("key_accepted", SKIP, skipped))
        _skip_repository(repository, write, skipped, report)
        return
    with Diagnostics(settings) as diagnostics:
        user = diagnostics.user()
        rate = user.rate_limit
        key_ok = (
            user.status == 200 and isinstance(user.data, dict) and user.data.get("authenticated")
        )
        if key_ok:
            slug = user.data.get("slug") or user.data.get("name") or "unknown user"
            report(
                Check("key_accepted", OK, f"Cloudsmith accepted CLOUDSMITH_API_KEY (user {slug})")
            )
        elif user.status in (200, 401, 403):
            report(
                Check(
                    "key_accepted",
                    FAIL,
                    "Cloudsmith rejected CLOUDSMITH_API_KEY"
                    + (f" ({user.detail})" if user.detail else ""),
                    f"copy a valid API key from {KEY_URL} (or a service account's key) into "
                    "CLOUDSMITH_API_KEY",
                )
            )
        else:
            report(
                Check(
                    "key_accepted",
                    FAIL,
                    _unexpected("GET /v1/user/self/", user.status, user.error or user.detail),
                    "run again; if it persists check https://status.cloudsmith.io",
                )
            )
        if not key_ok:
            _skip_repository(repository, write, "skipped: needs a valid key", report)
        elif repository is None:
            report(
                Check(
                    "repository",
                    SKIP,
                    "no repository given",
                    "pass cloudsmith://OWNER/REPO (or set CLOUDSMITH_OWNER and CLOUDSMITH_REPO) "
                    "to check it",
                )
            )
        else:
            found = diagnostics.repository(repository)
            rate = found.rate_limit or rate
            exists = _repository_check(repository, found.status, found.error or found.detail)
            if exists.status == OK and found.count is not None:
                exists = attrs.evolve(
                    exists, detail=f"{exists.detail} ({found.count} MLflow package(s))"
                )
            report(exists)
            if not write:
                report(Check("writable", SKIP, "skipped (--no-write)"))
            elif exists.status != OK:
                report(Check("writable", SKIP, "skipped: needs the repository"))
            else:
                report(_write_check(context, repository))
        report(_rate_check(rate))


def plugin_checks() -> list[Check]:
    """Whether MLflow finds this plugin for ``cloudsmith://``, and no other one."""
    from importlib.metadata import PackageNotFoundError, entry_points, version

    found = {
        (entry.name, entry.value)
        for entry in entry_points(group=ENTRY_POINT_GROUP)
        if entry.name == "cloudsmith"
    }
    ours = [value for _, value in found if value.startswith(OUR_MODULE)]
    others = sorted(value for _, value in found if not value.startswith(OUR_MODULE))
    checks = []
    if ours:
        checks.append(Check("plugin", OK, "MLflow finds cloudsmith-mlflow for cloudsmith:// URIs"))
    else:
        checks.append(
            Check(
                "plugin",
                FAIL,
                f"no {ENTRY_POINT_GROUP} entry point 'cloudsmith' points at cloudsmith-mlflow",
                "pip install cloudsmith-mlflow in the environment that runs MLflow",
            )
        )
    try:
        earlier = version(EARLIER_DISTRIBUTION)
    except PackageNotFoundError:
        earlier = None
    if earlier or others:
        what = [f"{EARLIER_DISTRIBUTION} {earlier} is installed"] if earlier else []
        what += [f"another plugin claims cloudsmith:// ({value})" for value in others]
        checks.append(
            Check(
                "conflict",
                WARN,
                "; ".join(what) + ": MLflow may pick either plugin for cloudsmith:// URIs",
                f"pip uninstall {EARLIER_DISTRIBUTION}"
                if earlier
                else "uninstall the other plugin",
            )
        )
    else:
        checks.append(Check("conflict", OK, "no other plugin claims cloudsmith:// URIs"))
    return checks


def _skip_repository(
    repository: RepositoryRef | None, write: bool, why: str, report: Callable[[Check], None]
) -> None:
    if repository is not None:
        report(Check("repository", SKIP, why))
        if write:
            report(Check("writable", SKIP, why))


def _repository_check(repository: RepositoryRef, status: int | None, detail: str) -> Check:
    if status == 200:
        return Check("repository", OK, f"the repository {repository} exists")
    if status == 404:
        return Check(
            "repository",
            FAIL,
            f"Cloudsmith has no repository {repository} visible to this key",
            "check the owner and repository slugs (cloudsmith://OWNER/REPO, as in the "
            "repository's URL on cloudsmith.io), or give the key access to it",
        )
    if status in (401, 403):
        return Check(
            "repository",
            FAIL,
            f"the key may not read {repository} (HTTP {status}: {detail})",
            "give the key (or its service account / team) read and write access to the repository",
        )
    return Check(
        "repository",
        FAIL,
        _unexpected(f"GET /v1/packages/{repository}/", status, detail),
        "run again; if it persists check https://status.cloudsmith.io",
    )


def _write_check(context: CliContext, repository: RepositoryRef) -> Check:
    from cloudsmith_mlflow.maintenance import check_write

    try:
        store = context.get_store()
    except CloudsmithMlflowError as exc:
        return Check("writable", FAIL, describe_error(exc), "fix the settings reported above")
    result = check_write(store, repository)
    if result.ok:
        return Check(
            "writable", OK, f"uploaded, downloaded, verified and deleted a probe in {repository}"
        )
    error = result.error
    if isinstance(error, PermissionDenied) or getattr(error, "status", None) == 403:
        return Check(
            "writable",
            FAIL,
            f"the key may read but not write {repository} (a read-only key: MLflow cannot log "
            "artifacts with it)",
            "use an API key whose user or service account has Write (or Admin) access to "
            "the repository",
        )
    step = "upload" if not result.uploaded else "download" if not result.verified else "delete"
    leftover = (
        f"; delete the probe package {result.package} by hand"
        if result.uploaded and not result.deleted and result.package
        else ""
    )
    return Check(
        "writable",
        FAIL,
        f"the probe {step} failed: {describe_error(error) if error else 'unknown error'}",
        "check the repository's permissions and storage quota, then run doctor again" + leftover,
    )


def _rate_check(rate: Any) -> Check:
    if rate is None or rate.remaining is None:
        return Check("rate_limit", SKIP, "Cloudsmith reported no rate limit")
    limit = f" of {rate.limit:,}" if rate.limit is not None else ""
    reset = f", resets {rate.reset:%H:%M} UTC" if rate.reset is not None else ""
    detail = f"{rate.remaining:,}{limit} API calls left{reset}"
    low = rate.remaining < 100 or (rate.limit and rate.remaining < rate.limit * 0.05)
    if low:
        return Check(
            "rate_limit",
            WARN,
            detail + ": uploads and listings will be throttled",
            "wait for the reset, or spread the work (each file upload costs two API calls)",
        )
    return Check("rate_limit", OK, detail)


def _unexpected(what: str, status: int | None, detail: str) -> str:
    if status is None:
        return f"{what} got no answer ({detail})"
    return f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")


def _display_host(api_host: str) -> str:
    """The API host without any user information someone put in it."""
    parts = urlsplit(api_host)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{netloc}" if parts.scheme else api_host


def _print_check(check: Check) -> None:
    fancy, plain = _MARKS[check.status]
    mark = fancy if can_print(fancy) else plain
    detail = (
        f"{LABELS.get(check.name, check.name)}: {check.detail}"
        if check.status == SKIP
        else check.detail
    )
    line = f"{mark} {detail}"
    colour = {OK: "green", FAIL: "red", WARN: "yellow", SKIP: None}[check.status]
    click.echo(click.style(line, fg=colour) if colour else line)
    if check.fix and check.status in (FAIL, WARN):
        arrow = "→" if can_print("→") else "->"
        click.echo(f"    {arrow} fix: {check.fix}")
    elif check.fix and check.status == SKIP:
        click.echo(f"    {check.fix}")
