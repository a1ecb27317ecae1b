#!/usr/bin/env bash
# Delete the Cloudsmith RAW packages of an MLflow run and/or experiment.
#
# A thin wrapper keeping the earlier plugin's script interface; the work is done by
# `cloudsmith-mlflow cleanup` (exact id matches, every page collected before the first
# deletion). No MLflow server is contacted. Dry run unless --confirm / CLEANUP_CONFIRM=1.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/cleanup_orphans.sh [--run-id RUN_ID] [--experiment-id EXPERIMENT_ID] [--confirm]
                                  [any other `cloudsmith-mlflow cleanup` option]

Deletes the Cloudsmith RAW packages of an MLflow run and/or experiment (both given: only
packages of that run in that experiment). Without --confirm it is a dry run that lists
what would go. Without any id it covers every MLflow package in the repository
(`cloudsmith-mlflow cleanup --all-mlflow`), still a dry run unless confirmed.

Environment:
  CLOUDSMITH_API_KEY   API key (required)
  CLOUDSMITH_OWNER     owner / organisation slug (required)
  CLOUDSMITH_REPO      repository slug (required)
  RUN_ID               same as --run-id
  EXPERIMENT_ID        same as --experiment-id
  CLEANUP_CONFIRM=1    same as --confirm
  CLOUDSMITH_API_HOST  API host (default https://api.cloudsmith.io)
  CLOUDSMITH_MLFLOW    the cloudsmith-mlflow command to run (default: from PATH)

Example:
  CLOUDSMITH_API_KEY=... CLOUDSMITH_OWNER=myorg CLOUDSMITH_REPO=myrepo \
      scripts/cleanup_orphans.sh --run-id 0123456789abcdef0123456789abcdef --confirm
USAGE
}

run_id="${RUN_ID:-}"
experiment_id="${EXPERIMENT_ID:-}"
passthrough=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --run-id)
            [[ $# -ge 2 ]] || { echo "Error: --run-id needs a value" >&2; exit 2; }
            run_id="$2"; shift 2 ;;
        --run-id=*) run_id="${1#*=}"; shift ;;
        --experiment-id)
            [[ $# -ge 2 ]] || { echo "Error: --experiment-id needs a value" >&2; exit 2; }
            experiment_id="$2"; shift 2 ;;
        --experiment-id=*) experiment_id="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) passthrough+=("$1"); shift ;;
    esac
done

find_cli() {
    if [[ -n "${CLOUDSMITH_MLFLOW:-}" ]]; then
        echo "$CLOUDSMITH_MLFLOW"
    elif command -v cloudsmith-mlflow >/dev/null 2>&1; then
        command -v cloudsmith-mlflow
    else
        local here
        here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
        if [[ -x "$here/../.venv/bin/cloudsmith-mlflow" ]]; then
            echo "$here/../.venv/bin/cloudsmith-mlflow"
        fi
    fi
}

cli="$(find_cli)"
if [[ -z "$cli" ]]; then
    echo "Error: cloudsmith-mlflow is not installed: pip install cloudsmith-mlflow" \
        "(or set CLOUDSMITH_MLFLOW to the command)" >&2
    exit 2
fi

args=(cleanup)
[[ -n "$run_id" ]] && args+=(--run-id "$run_id")
[[ -n "$experiment_id" ]] && args+=(--experiment-id "$experiment_id")
if [[ -z "$run_id" && -z "$experiment_id" ]]; then
    # The earlier script's meaning of "no id": every MLflow package (still a dry run).
    args+=(--all-mlflow)
fi
# --confirm, CLEANUP_CONFIRM, CLOUDSMITH_OWNER and CLOUDSMITH_REPO are read by the command.
exec "$cli" "${args[@]}" ${passthrough[@]+"${passthrough[@]}"}
