"""``cloudsmith-mlflow doctor``: a checklist of what MLflow needs from Cloudsmith.

Each check prints ✓ (passed), ✗ (failed, with the fix), ! (a warning) or -
(skipped because an earlier check failed). Checks: the plugin is registered
with MLflow and the earlier ``mlflow-cloudsmith`` plugin is not installed too;
the API key is set; the API host answers; the key is accepted; the repository
exists; it is writable (a tiny probe package uploaded, downloaded, verified and
deleted); the API calls left before Cloudsmith's rate limit.
"""

from __future__ import annotations

import re
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
SCHEME = "cloudsmith"
_STATUS_PATH = "/v1/status/check/basic/"

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
    host_ok = reached.status in (200, 401, 403)
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
    elif host_ok:
        report(Check("host", OK, f"the API host {host} answers"))
    else:
        report(
            Check(
                "host",
                FAIL,
                f"GET {host}{_STATUS_PATH} answered HTTP {reached.status} "
                f"({reached.detail or 'not a Cloudsmith API'})",
                "set CLOUDSMITH_API_HOST to the Cloudsmith API's scheme + host[:port], "
                "without /v1 (default https://api.cloudsmith.io)",
            )
        )
    # A host that does not answer, or answers as something other than the
    # Cloudsmith API, makes every later answer meaningless: skip them rather than
    # report follow-on failures with the wrong fix.
    if not reached.reached:
        skipped = "skipped: needs a reachable API host"
    elif not host_ok:
        skipped = "skipped: needs a working API host"
    elif settings.api_key is None:
        skipped = "skipped: needs CLOUDSMITH_API_KEY"
    else:
        skipped = ""
    if skipped:
        report(Check("key_accepted", SKIP, skipped))
        _skip_repository(repository, write, skipped, report)
        report(Check("rate_limit", SKIP, skipped))
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
                    _retry_fix(user.status),
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
    """Whether MLflow finds this plugin for ``cloudsmith://``, and no other one.

    MLflow registers every ``mlflow.artifact_repository`` entry point in turn and
    the last one it loads wins, so a second claim on the scheme (the earlier
    ``mlflow-cloudsmith`` plugin above all) makes the choice depend on sys.path order.
    """
    from importlib.metadata import entry_points

    claims = [entry for entry in entry_points(group=ENTRY_POINT_GROUP) if entry.name == SCHEME]
    ours = [entry for entry in claims if entry.value.startswith(OUR_MODULE)]
    others = [entry for entry in claims if not entry.value.startswith(OUR_MODULE)]
    checks = []
    if ours:
        checks.append(Check("plugin", OK, "MLflow finds cloudsmith-mlflow for cloudsmith:// URIs"))
    else:
        checks.append(
            Check(
                "plugin",
                FAIL,
                f"no {ENTRY_POINT_GROUP} entry point '{SCHEME}' points at cloudsmith-mlflow",
                "pip install cloudsmith-mlflow in the environment that runs MLflow",
            )
        )
    earlier = _earlier_version()
    what: list[str] = []
    foreign = [entry for entry in others if _distribution_of(entry) != EARLIER_DISTRIBUTION]
    if earlier is not None:
        claims_too = len(foreign) < len(others)
        what.append(
            f"the earlier plugin {EARLIER_DISTRIBUTION} {earlier} is installed"
            + (" and claims cloudsmith:// too" if claims_too else "")
        )
    what += [
        f"{_distribution_of(entry) or 'another package'} claims cloudsmith:// ({entry.value})"
        for entry in sorted(foreign, key=lambda entry: entry.value)
    ]
    if not what:
        checks.append(Check("conflict", OK, "no other plugin claims cloudsmith:// URIs"))
        return checks
    uninstall = sorted({name for name in map(_distribution_of, foreign) if name})
    if earlier is not None:
        uninstall.insert(0, EARLIER_DISTRIBUTION)
    checks.append(
        Check(
            "conflict",
            WARN,
            "; ".join(what)
            + (": MLflow may pick either plugin for cloudsmith:// URIs" if others else ""),
            f"pip uninstall {' '.join(uninstall)}" if uninstall else "uninstall the other plugin",
        )
    )
    return checks


def _earlier_version() -> str | None:
    """The installed version of the earlier plugin (``(unknown version)`` when its
    metadata has none), or None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        found = distribution(EARLIER_DISTRIBUTION)
    except PackageNotFoundError:
        return None
    return found.version or "(unknown version)"


def _distribution_of(entry: Any) -> str | None:
    """The normalised name of the distribution declaring ``entry``, when known."""
    dist = getattr(entry, "dist", None)
    name = dist.name if dist is not None else None
    return re.sub(r"[-_.]+", "-", name).lower() if name else None


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
        _retry_fix(status),
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
    denied = isinstance(error, PermissionDenied) or getattr(error, "status", None) == 403
    leftover = (
        f"; delete the probe package {result.package} by hand"
        if result.uploaded and not result.deleted and result.package
        else ""
    )
    if denied and not result.uploaded:
        return Check(
            "writable",
            FAIL,
            f"the key may read but not write {repository} (a read-only key: MLflow cannot log "
            "artifacts with it)",
            "use an API key whose user or service account has Write (or Admin) access to "
            "the repository",
        )
    if denied and result.verified:
        # Uploading worked; only the delete was refused. Not a read-only key.
        return Check(
            "writable",
            FAIL,
            f"the key may upload packages to {repository} but may not remove them "
            "(MLflow's delete_artifacts, `mlflow gc` and `cloudsmith-mlflow cleanup` will fail)",
            "give the key's user or service account Admin (delete) access to the repository, "
            "or accept that deletions need another key" + leftover,
        )
    step = "upload" if not result.uploaded else "download" if not result.verified else "delete"
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


def _retry_fix(status: int | None) -> str:
    if status == 429:
        return (
            "Cloudsmith is throttling this key: wait for the rate limit to reset "
            "(X-RateLimit-Reset), then run again"
        )
    return "run again; if it persists check https://status.cloudsmith.io"


def _unexpected(what: str, status: int | None, detail: str) -> str:
    if status is None:
        return f"{what} got no answer ({detail})"
    return f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")


def _display_host(api_host: str) -> str:
    """The API host as configured (a stray path such as ``/v1`` included, since that
    is often the mistake), without any user information someone put in it."""
    parts = urlsplit(api_host)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}" if parts.scheme else api_host


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
