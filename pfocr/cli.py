"""The ``pfocr`` command: build, update, check and inspect the index, and serve it."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from indexer import __version__, pipeline
from indexer.index.reader import segment_stats
from indexer.index.store import (
    REPORT_FILE,
    IncompatibleIndex,
    IndexError_,
    IndexStore,
    read_meta,
)
from indexer.report import Report
from indexer.sources import SourceError

# Help is plain text: the module docstring's reStructuredText (``pfocr``) is for Python.
DESCRIPTION = "Build, update, check and inspect the PFOCR figure index, and serve it."
DEFAULT_INDEX = "index_data"
REJECTIONS_SHOWN = 20

EXIT_OK = 0
EXIT_REJECTED = 1  # --strict and some records were rejected
EXIT_USAGE = 2  # bad arguments or source paths
EXIT_INDEX = 3  # no index, incompatible index, or another build running
EXIT_EMPTY = 4  # the run would publish an empty index (and --allow-empty was not given)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SourceError as exc:
        print(f"pfocr: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except IndexError_ as exc:
        print(f"pfocr: {exc}", file=sys.stderr)
        return EXIT_INDEX
    except pipeline.StrictFailure as exc:
        _print_rejections(exc.report.rejected)
        print(f"pfocr: --strict: {exc}; see {_report_path(exc.report)}", file=sys.stderr)
        return EXIT_REJECTED
    except pipeline.EmptyIndexRefused as exc:
        _print_rejections(exc.report.rejected)
        print(f"pfocr: {exc}; see {_report_path(exc.report)}", file=sys.stderr)
        return EXIT_EMPTY
    except KeyboardInterrupt:
        print("pfocr: interrupted; the index being served was not changed", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pfocr", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run, help_text: str, *, sources: bool = True, index: bool = True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        if sources:
            sub.add_argument(
                "sources",
                nargs="+",
                metavar="SRC",
                help="record files or folders (searched recursively)",
            )
        if index:
            sub.add_argument(
                "--index", default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX}/)"
            )
        return sub

    for name, run, help_text in (
        ("build", _build, "build a new index from all records and switch to it when complete"),
        ("update", _update, "add new and changed figures, remove those whose records are gone"),
    ):
        sub = command(name, run, help_text)
        sub.add_argument(
            "--strict",
            action="store_true",
            help="fail (exit 1, publish nothing) if any record is rejected",
        )
        sub.add_argument(
            "--workers", type=int, default=None, help="worker processes (default: one per core)"
        )
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.add_argument(
            "--allow-empty",
            action="store_true",
            help="publish the index even if it holds no figures (refused otherwise, exit 4)",
        )
    commands.choices["build"].add_argument(
        "--memory-mb",
        type=_megabytes,
        default=pipeline.WRITER_MEMORY_MB,
        help="postings each worker holds in memory before it writes a segment "
        f"(default: {pipeline.WRITER_MEMORY_MB})",
    )
    check = command("check", _check, "validate records only; touches no index", index=False)
    check.add_argument("--strict", action="store_true", help="exit 1 if any record is rejected")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.add_argument("--report", type=Path, help="also write the report as JSON to this file")
    command("stats", _stats, "show what the current index holds", sources=False)
    enrich = command(
        "enrich",
        _enrich,
        "rank the figures that best explain a gene list (gene-set enrichment)",
        sources=False,
    )
    _enrich_arguments(enrich)
    serve = command("serve", _serve, "serve the search site and API", sources=False)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="worker processes (default: one per core)",
    )
    serve.add_argument(
        "--threads", type=_positive, default=None, help="threads per worker (default: 2)"
    )
    serve.add_argument(
        "--access-log",
        type=Path,
        metavar="FILE",
        help="append the JSON line of each request to FILE (default: stderr)",
    )
    serve.add_argument(
        "--max-requests",
        type=_whole,
        default=0,
        metavar="N",
        help="replace a worker after about N requests (default: 0, never)",
    )
    serve.add_argument(
        "--costly-slots",
        type=_positive,
        default=None,
        metavar="N",
        help="costly queries running at once over all workers (default: workers - 1, at least 1)",
    )
    serve.add_argument(
        "--build-from",
        metavar="SRC",
        action="append",
        help="if there is no index yet, build one from these records first",
    )
    return parser


def _build(args: argparse.Namespace) -> int:
    report = pipeline.build(
        args.sources,
        args.index,
        workers=args.workers,
        progress=not args.quiet,
        strict=args.strict,
        memory_mb=args.memory_mb,
        allow_empty=args.allow_empty,
    )
    return _finish(report, args.strict)


def _update(args: argparse.Namespace) -> int:
    report = pipeline.update(
        args.sources,
        args.index,
        progress=not args.quiet,
        strict=args.strict,
        allow_empty=args.allow_empty,
    )
    return _finish(report, args.strict)


def _check(args: argparse.Namespace) -> int:
    report = pipeline.check(args.sources, progress=not args.quiet)
    if args.report:
        args.report.write_text(
            json.dumps(report.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
    return _finish(report, args.strict)


def _report_path(report: Report) -> Path:
    return Path(report.index or DEFAULT_INDEX) / REPORT_FILE


def _finish(report: Report, strict: bool) -> int:
    _print_rejections(report.rejected)
    if report.command != "check" and not report.published:
        print(f"{report.summary()} (no changes; index unchanged)")
    else:
        print(report.summary())
    if report.rejected and report.index:
        print(f"rejections written to {_report_path(report)}")
    return EXIT_REJECTED if strict and report.rejected else EXIT_OK


def _print_rejections(rejected: list[dict]) -> None:
    for item in rejected[:REJECTIONS_SHOWN]:
        field = f" [{item['field']}]" if item["field"] else ""
        print(f"rejected: {item['location']}{field}: {item['problem']}", file=sys.stderr)
    if len(rejected) > REJECTIONS_SHOWN:
        print(f"... and {len(rejected) - REJECTIONS_SHOWN} more", file=sys.stderr)


def _stats(args: argparse.Namespace) -> int:
    store = IndexStore(args.index)
    generation = store.require_current()
    meta = read_meta(generation)
    meta.update(segment_stats(generation))
    meta["path"] = str(generation)
    width = max(len(key) for key in meta)
    for key, value in meta.items():
        print(f"{key:<{width}}  {value}")
    return EXIT_OK


def _enrich_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "genes",
        metavar="FILE",
        help="the gene list: symbols, Entrez IDs or printed names, separated by newlines, "
        "commas, tabs or spaces; - reads standard input",
    )
    library = sub.add_argument_group("library", "the figures tested: those this search finds")
    library.add_argument("--q", default="", help="search text, as on the site")
    for name in ("organism", "disease", "chemical", "annotation", "gene"):
        library.add_argument(
            f"--{name}", action="append", default=[], help=f"{name} filter (repeatable)"
        )
    library.add_argument("--year-min", help="earliest year")
    library.add_argument("--year-max", help="latest year")
    library.add_argument(
        "--min-figure-genes",
        default=None,
        help="leave out figures with fewer genes (default: 3)",
    )
    stats = sub.add_argument_group("statistics")
    stats.add_argument(
        "--background", metavar="FILE", help="background gene list (default: the library's genes)"
    )
    stats.add_argument("--background-size", help="background as a number of genes (e.g. 20000)")
    stats.add_argument(
        "--correction",
        choices=("library", "overlapping"),
        default="library",
        help="adjust p-values over every figure of the library (default) or over the "
        "figures sharing a gene (as Enrichr)",
    )
    sub.add_argument("--limit", type=int, default=None, help="print at most this many rows")
    sub.add_argument(
        "--format",
        choices=("tsv", "json"),
        default="tsv",
        help="tsv: Enrichr's columns, header first (default); json: the answer and every row",
    )


def _enrich(args: argparse.Namespace) -> int:
    # Here, so that indexing commands do not load the search service.
    from server.search.models import EnrichRequest, InvalidParameter, SearchRequest
    from server.search.service import SearchService
    from server.web.export import enrichment_tsv_chunks

    try:
        genes = _read_text(args.genes)
        background = _read_text(args.background) if args.background else None
    except OSError as exc:
        print(f"pfocr: {exc}", file=sys.stderr)
        return EXIT_USAGE
    filters = {
        name: getattr(args, name)
        for name in ("organism", "disease", "chemical", "annotation", "gene")
        if getattr(args, name)
    }
    request = EnrichRequest(
        genes=(genes,),
        library=SearchRequest(
            q=args.q, filters=filters, year_min=args.year_min, year_max=args.year_max, facets=()
        ),
        min_figure_genes=args.min_figure_genes,
        background=None if background is None else (background,),
        background_size=args.background_size,
        correction=args.correction,
    )
    service = SearchService(args.index)
    try:
        summary, rows = service.iter_enrichment(request, limit=args.limit or sys.maxsize)
    except InvalidParameter as exc:
        print(f"pfocr: {exc.parameter}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    query = summary["query"]
    print(
        f"{query['recognised']:,} of {query['entries']:,} entries recognised, "
        f"{summary['query_size']:,} genes in a background of {summary['background_size']:,}; "
        f"{summary['total']:,} of {summary['library_size']:,} figures share a gene",
        file=sys.stderr,
    )
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if query["unrecognised"]:
        print(f"unrecognised: {', '.join(query['unrecognised'])}", file=sys.stderr)
    if args.format == "json":
        json.dump({**summary, "results": list(rows)}, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        for chunk in enrichment_tsv_chunks(rows):
            sys.stdout.write(chunk)
    service.close()
    return EXIT_OK


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


def _serve(args: argparse.Namespace) -> int:
    # Here, so that indexing commands skip Flask and gunicorn.
    from server.web.serving import ServeOptions, serve

    store = IndexStore(args.index)
    reason = _why_build(store)
    if reason and args.build_from:
        print(f"{reason}: building it from {', '.join(args.build_from)}")
        _finish(pipeline.build(args.build_from, args.index, progress=True), strict=False)
    store.require_current()
    options = ServeOptions(
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads or ServeOptions.threads,
        access_log=args.access_log,
        max_requests=args.max_requests,
        costly_slots=args.costly_slots,
    )
    return serve(Path(args.index), options)


def _positive(text: str) -> int:
    return _at_least(text, 1)


def _whole(text: str) -> int:
    return _at_least(text, 0)


def _megabytes(text: str) -> float:
    """A positive, finite number of megabytes (a fraction allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of megabytes, got {text}")
    return value


def _at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def _why_build(store: IndexStore) -> str | None:
    """Why ``serve --build-from`` must build first: no index, or one it cannot read."""
    if store.current() is None:
        return f"no index in {store.root}"
    try:
        store.require_current()
    except IncompatibleIndex as error:
        return str(error).removesuffix("; rebuild it with `pfocr build`")
    return None


if __name__ == "__main__":
    sys.exit(main())
