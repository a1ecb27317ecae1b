"""Listing cost independence: listing one run costs the same requests (and about the
same time) whether its repository holds a few other packages or thousands.

The listing asks Cloudsmith for the run's scope only (``tag:^run-<id>$``, all
pages), so the other packages never cross the wire; what remains is the server's
own search over them.
"""

from __future__ import annotations

import statistics
import tempfile
from functools import partial
from pathlib import Path

from benchmarks.support import (
    BenchEmulator,
    RequestCounts,
    Section,
    Table,
    make_small_files,
    ratio,
    run_path,
    timed,
)
from cloudsmith_mlflow.services import ArtifactService

__all__ = ["listing_independence"]

FEW_REPO = "bench/few-packages"
MANY_REPO = "bench/many-packages"
#: Other packages per run when seeding: several runs, as a shared repository has.
_PER_RUN = 100
_SEED_WORKERS = 16
_FILE_SIZE = 16


def _seed(service: ArtifactService, scratch: Path, count: int) -> None:
    """Log ``count`` tiny files spread over runs of :data:`_PER_RUN` files each."""
    for batch, start in enumerate(range(0, count, _PER_RUN)):
        size = min(_PER_RUN, count - start)
        tree = make_small_files(scratch / f"batch-{batch}", size, _FILE_SIZE)
        service.log_directory(tree, run_path()[1])


def listing_independence(run_files: int, few: int, many: int, repeats: int) -> Section:
    """Requests and median time to list one run beside ``few`` vs ``many`` other packages."""
    with tempfile.TemporaryDirectory(prefix="cloudsmith-bench-") as scratch:
        root = Path(scratch)
        run_tree = make_small_files(root / "run", run_files, _FILE_SIZE)
        with BenchEmulator([FEW_REPO, MANY_REPO]) as emulator:
            seeder_store = emulator.store(max_workers=_SEED_WORKERS)
            paths: dict[str, str] = {}
            services: dict[str, ArtifactService] = {}
            seeding_s = 0.0
            for repo, others in ((FEW_REPO, few), (MANY_REPO, many)):
                seeder = emulator.service(repo, max_workers=_SEED_WORKERS, store=seeder_store)
                # The run listed is the oldest: newest-first paging would reach it last.
                paths[repo] = run_path()[1]
                seeder.log_directory(run_tree, paths[repo])
                _, seconds = timed(partial(_seed, seeder, root / repo, others))
                seeding_s += seconds
                services[repo] = emulator.service(repo, max_workers=8)
                services[repo].list_artifacts(paths[repo])  # warm up: open connections

            def listing(repo: str) -> int:
                entries = services[repo].list_artifacts(paths[repo])
                if len(entries) != min(4, run_files):
                    raise RuntimeError(f"listing {repo} found {len(entries)} entries")
                return len(entries)

            for repo, service in services.items():
                files = sum(1 for _ in service.walk(paths[repo]))
                if files != run_files:
                    raise RuntimeError(f"{repo}: the run holds {files} of {run_files} files")
            counts: dict[str, RequestCounts] = {}
            calls: dict[str, str] = {}
            for repo in paths:
                mark = emulator.mark()
                listing(repo)
                records = emulator.records_since(mark)
                counts[repo] = RequestCounts.of(records)
                calls[repo] = next(r["path"] for r in records if r["path"].startswith("/v1/"))
            times: dict[str, list[float]] = {repo: [] for repo in paths}
            raw_times: dict[str, list[float]] = {repo: [] for repo in paths}
            for _ in range(repeats):
                # Alternate the sides so drift on a shared machine hits both alike.
                for repo in paths:
                    times[repo].append(timed(partial(listing, repo))[1])
                    raw_times[repo].append(timed(partial(emulator.get, calls[repo]))[1])
    few_s, many_s = (statistics.median(times[repo]) for repo in (FEW_REPO, MANY_REPO))
    few_raw, many_raw = (statistics.median(raw_times[repo]) for repo in (FEW_REPO, MANY_REPO))
    few_api, many_api = counts[FEW_REPO].api, counts[MANY_REPO].api
    rows = (
        ("API requests per listing", str(few_api), str(many_api), ratio(many_api, few_api)),
        (f"median time per listing ({repeats} runs)", f"{few_s * 1000:.1f} ms",
         f"{many_s * 1000:.1f} ms", ratio(many_s, few_s)),
        ("median time of the same API call, plain `requests`", f"{few_raw * 1000:.1f} ms",
         f"{many_raw * 1000:.1f} ms", ratio(many_raw, few_raw)),
        ("client's share (listing minus the plain call)", f"{(few_s - few_raw) * 1000:.1f} ms",
         f"{(many_s - many_raw) * 1000:.1f} ms", ratio(many_s - many_raw, few_s - few_raw)),
    )  # fmt: skip
    return Section(
        title="3. Listing cost independence",
        setup=(
            f"`ArtifactService.list_artifacts` of one run ({run_files} files in 4 "
            f"directories) in a repository also holding {few} other packages vs one "
            f"holding {many} (other runs of {_PER_RUN} files each; the listed run is the "
            "oldest package). Both repositories live in one emulator process with no "
            "added latency, and the listings alternate. The other packages were seeded "
            f"through the REST store with {_SEED_WORKERS} workers "
            f"({few + many} packages in {seeding_s:.1f} s: "
            f"{(few + many) / seeding_s:.0f} uploads/s)."
        ),
        tables=(
            Table(
                (
                    "measurement",
                    f"{few} other packages",
                    f"{many} other packages",
                    "ratio many / few",
                ),
                rows,
            ),
        ),
        headline=(
            f"listing one run beside {few} vs {many} other packages",
            f"{few_api} vs {many_api} API requests; time {ratio(many_s, few_s)}",
        ),
        notes=(
            "The request count is the client's doing and "
            + ("does not depend" if few_api == many_api else "DOES depend")
            + " on what else the repository holds.",
            "The time that grows is the emulator's: it evaluates the query against every "
            "package of the repository (a linear scan), as the plain call of the same URL "
            f"shows; the client receives and parses only the run's {run_files} records.",
        ),
    )
