"""``cloudsmith-mlflow cleanup``: delete the packages of a run, an experiment or a model.

Replaces the earlier plugin's ``scripts/cleanup_orphans.sh`` and keeps its
interface (``CLOUDSMITH_OWNER``, ``CLOUDSMITH_REPO``, ``RUN_ID``,
``EXPERIMENT_ID``, ``CLEANUP_CONFIRM=1``, ``--run-id``, ``--experiment-id``,
``--confirm``) while fixing its two bugs: ids match exactly, and every
matching package is collected before the first deletion.
"""

from __future__ import annotations

from typing import Any

import click

from cloudsmith_mlflow.cli._context import cli_context, parse_uri, resolve_repository
from cloudsmith_mlflow.cli._errors import EXIT_USAGE, describe_error, fail, handle_errors
from cloudsmith_mlflow.cli._output import (
    emit_json,
    human_size,
    info,
    new_table,
    note,
    print_table,
    progress,
    warn,
)
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.maintenance import (
    CleanupPlan,
    CleanupScope,
    PlannedDeletion,
    plan_cleanup,
    run_cleanup,
    validate_id,
)


def _id_option(kind: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return validate_id(kind, value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return callback


@click.command("cleanup")
@click.argument(
    "uri", callback=parse_uri, required=False, metavar="[cloudsmith://OWNER/REPO[/PATH]]"
)
@click.option("--owner", envvar="CLOUDSMITH_OWNER", help="Owner (user or organisation) slug.")
@click.option("--repo", envvar="CLOUDSMITH_REPO", help="Repository slug.")
@click.option(
    "--run-id", envvar="RUN_ID", callback=_id_option("run"), help="Only packages of this run."
)
@click.option(
    "--experiment-id",
    envvar="EXPERIMENT_ID",
    callback=_id_option("experiment"),
    help="Only packages of this experiment.",
)
@click.option(
    "--model-id",
    callback=_id_option("model"),
    help="Only packages of this MLflow 3 logged model (m-...).",
)
@click.option(
    "--all-mlflow",
    is_flag=True,
    help="With no id: every MLflow package in the repository (or below PATH).",
)
@click.option(
    "--confirm",
    is_flag=True,
    envvar="CLEANUP_CONFIRM",
    help="Delete for real (default: a dry run that deletes nothing).",
)
@click.option("-v", "--verbose", is_flag=True, help="List every package, not only the totals.")
@click.option(
    "--json", "as_json", is_flag=True, help="JSON lines: one per package, then a summary."
)
@click.pass_context
@handle_errors
def cleanup_command(
    ctx: click.Context,
    uri: ArtifactLocation | None,
    owner: str | None,
    repo: str | None,
    run_id: str | None,
    experiment_id: str | None,
    model_id: str | None,
    all_mlflow: bool,
    confirm: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Delete the Cloudsmith packages of a run, an experiment or a logged model.

    A dry run unless --confirm (or CLEANUP_CONFIRM=1) is given: it shows what
    would go, per experiment and run, with counts and sizes. Given several ids,
    only packages carrying all of them go. Ids match exactly (experiment 1 never
    touches experiment 10). Every matching package is collected before the first
    deletion, so none is skipped however many there are. A PATH in the URI limits
    the cleanup to artifacts below it. No MLflow server is contacted.

    \b
    Examples:
      cloudsmith-mlflow cleanup --owner acme --repo ml-artifacts --run-id 0123456789abcdef...
      cloudsmith-mlflow cleanup cloudsmith://acme/ml-artifacts --experiment-id 1 --confirm
      cloudsmith-mlflow cleanup cloudsmith://acme/ml-artifacts/team-a --all-mlflow
      CLOUDSMITH_OWNER=acme CLOUDSMITH_REPO=ml-artifacts RUN_ID=0123... CLEANUP_CONFIRM=1 \\
          cloudsmith-mlflow cleanup

    \b
    Environment: CLOUDSMITH_API_KEY, CLOUDSMITH_API_HOST, CLOUDSMITH_OWNER,
    CLOUDSMITH_REPO, RUN_ID, EXPERIMENT_ID, CLEANUP_CONFIRM=1 (as the earlier
    scripts/cleanup_orphans.sh took them).

    \b
    Exit codes: 0 done (or nothing matched), 1 a deletion or Cloudsmith failed,
    2 usage (no id and no --all-mlflow, no repository, CLOUDSMITH_API_KEY unset).
    """
    location = resolve_repository(ctx, uri, owner, repo)
    assert location is not None
    scope = CleanupScope(experiment_id=experiment_id, run_id=run_id, model_id=model_id)
    if scope.is_everything and not all_mlflow:
        fail(
            "no --run-id, --experiment-id or --model-id given (nor RUN_ID / EXPERIMENT_ID): "
            "pass one, or --all-mlflow to clean up every MLflow package in "
            f"{location.uri}",
            EXIT_USAGE,
        )
    if all_mlflow and not scope.is_everything:
        note("--all-mlflow is ignored: the ids given limit the cleanup")
    context = cli_context(ctx)
    store = context.get_store()
    plan = plan_cleanup(store, location, scope)
    where = location.uri
    if plan.outside:
        note(
            f"{plan.outside} package(s) of {scope.describe()} lie outside {where} "
            "(or have an unreadable path) and stay"
        )
    if not confirm:
        _show_plan(plan, verbose=verbose, as_json=as_json)
        if not as_json:
            if plan.count:
                info(
                    f"Dry run: {plan.count} package(s), {human_size(plan.size)}, of "
                    f"{scope.describe()} in {where} would be deleted; "
                    "run again with --confirm (or CLEANUP_CONFIRM=1) to delete them."
                )
            else:
                info(f"Nothing to delete: no package of {scope.describe()} in {where}.")
        return
    if not plan.count:
        if as_json:
            emit_json(_summary(plan, dry_run=False, deleted=0, size=0, failed=0))
        else:
            info(f"Nothing to delete: no package of {scope.describe()} in {where}.")
        return
    if verbose and not as_json:
        _show_plan(plan, verbose=True, as_json=False)
    by_slug = {item.record.slug_perm: item for item in plan.items}
    with progress(f"Deleting {plan.count} package(s)", plan.count) as bar:

        def advanced(record: PackageRecord, error: BaseException | None) -> None:
            bar.advance(1)
            if as_json:
                item = by_slug[record.slug_perm]
                extra = {"error": describe_error(error)} if error else {}
                emit_json(_item_json(item, "failed" if error else "deleted") | extra)

        result = run_cleanup(
            store, plan, max_workers=context.get_settings().max_workers, progress=advanced
        )
    failed = len(result.failures)
    if as_json:
        emit_json(
            _summary(
                plan, dry_run=False, deleted=len(result.deleted), size=result.size, failed=failed
            )
        )
    else:
        info(
            f"Deleted {len(result.deleted)} package(s), {human_size(result.size)}, of "
            f"{scope.describe()} from {where}."
        )
    if failed:
        for record, error in result.failures[:5]:
            warn(f"could not delete {record.slug_perm}: {describe_error(error)}")
        fail(
            f"{failed} of {plan.count} package(s) could not be deleted: run the same "
            "command again to retry them"
        )


def _show_plan(plan: CleanupPlan, *, verbose: bool, as_json: bool) -> None:
    if as_json:
        for item in plan.items:
            emit_json(_item_json(item, "would_delete"))
        emit_json(_summary(plan, dry_run=True, deleted=0, size=0, failed=0))
        return
    if not plan.count:
        return
    if verbose:
        table = new_table("Path", "Experiment", "Owner", "Size", "Package", right=("Size",))
        for item in plan.items:
            table.add_row(
                item.key or "(unreadable description)",
                item.experiment_id or "",
                item.owner or "",
                human_size(item.record.size),
                item.record.slug_perm,
            )
    else:
        table = new_table(
            "Experiment", "Run / model", "Packages", "Size", right=("Packages", "Size")
        )
        for group in plan.groups():
            table.add_row(
                group.experiment_id or "-",
                group.owner or "-",
                str(group.count),
                human_size(group.size),
            )
        table.show_footer = True
        for column, footer in zip(
            table.columns, ("Total", "", str(plan.count), human_size(plan.size)), strict=True
        ):
            column.footer = footer
    print_table(table)


def _item_json(item: PlannedDeletion, action: str) -> dict[str, Any]:
    record = item.record
    identity = item.identity
    return {
        "action": action,
        "package": record.slug_perm,
        "name": record.name,
        "version": record.version,
        "key": item.key,
        "experiment": item.experiment_id,
        "run": identity.run_id if identity else _tag(record, "run-"),
        "model": identity.model_id if identity else _tag(record, "model-"),
        "size": record.size,
    }


def _summary(
    plan: CleanupPlan, *, dry_run: bool, deleted: int, size: int, failed: int
) -> dict[str, Any]:
    scope = plan.scope
    return {
        "summary": True,
        "dry_run": dry_run,
        "repository": str(plan.location.repository),
        "prefix": plan.location.prefix,
        "experiment": scope.experiment_id,
        "run": scope.run_id,
        "model": scope.model_id,
        "matched": plan.count,
        "matched_size": plan.size,
        "deleted": deleted,
        "deleted_size": size,
        "failed": failed,
        "outside_prefix": plan.outside,
    }


def _tag(record: PackageRecord, prefix: str) -> str | None:
    return next((tag[len(prefix) :] for tag in record.tags if tag.startswith(prefix)), None)
