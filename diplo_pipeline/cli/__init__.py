"""`diplo`: build the warehouse, make demo data, and query the catalog from the terminal."""

from __future__ import annotations

import os
import sys

from diplo_pipeline.cli.commands import answer, build, catalog_url, demo, sql
from diplo_pipeline.cli.parser import parser
from diplo_pipeline.lib.settings import DataPaths


def _dispatch(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    paths = DataPaths.from_env(args.data_dir)
    if args.command == "build":
        return build(paths)
    if args.command == "demo":
        return demo(paths, args.seed)
    if args.command == "catalog-url":
        return catalog_url(paths)
    if args.command == "sql":
        return sql(paths, args.query, args.format)
    return answer(args, paths)


def main(argv: list[str] | None = None) -> int:
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # inside the try: a reader gone away shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `diplo runs | head -1`: the reader has what it wanted. Python's own recipe: point stdout at
        # devnull so the final flush at exit cannot fail again, and leave without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1

