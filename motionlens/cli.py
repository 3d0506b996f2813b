"""`motionlens` command line (DESIGN §10): analyze, serve, keys, worker, server."""

from __future__ import annotations

import argparse
import os
import sys

# Before Prefect is imported: no telemetry, and room for a slow 2-core start of the ephemeral API.
for _k, _v in {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
               "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
               "PREFECT_LOGGING_LEVEL": "WARNING", "GLOG_minloglevel": "2"}.items():
    os.environ.setdefault(_k, _v)

from pipeline.errors import PipelineError  # noqa: E402
from pipeline.options import ACTIVITIES, EXERCISES, JUMP_TYPES, MODELS  # noqa: E402


def _analyze_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse a video into a published session")
    p.add_argument("video", nargs="+", help="file path, folder, glob, file://, https:// or gs:// URI (several: "
                   "a summary table and CSV)")
    p.add_argument("--activity", required=True, choices=ACTIVITIES)
    p.add_argument("--exercise", choices=EXERCISES)
    p.add_argument("--athlete-height", type=float, metavar="M")
    p.add_argument("--body-mass", type=float, metavar="KG")
    p.add_argument("--treadmill-speed", type=float, metavar="M_PER_S")
    p.add_argument("--model", default="full", help=f"{'|'.join(MODELS)} or a .task path")
    p.add_argument("--jump-type", choices=JUMP_TYPES)
    p.add_argument("--sex", choices=("F", "M"))
    p.add_argument("--age", type=float)
    p.add_argument("--level")
    p.add_argument("--select", default="auto", help="largest | moving | X,Y (a point on the athlete in the first frame)")
    p.add_argument("--start", type=float, metavar="S", help="analyse from S seconds into the clip (times stay the clip's)")
    p.add_argument("--end", type=float, metavar="S", help="analyse up to S seconds into the clip")
    p.add_argument("--owner", default="local")
    p.add_argument("--storage", help="directory, file:// or gs://bucket/prefix (default $MOTIONLENS_STORAGE or ./data)")
    p.add_argument("--no-render", action="store_true", help="skip the annotated video")
    p.add_argument("--json", action="store_true", help="print the session manifest as JSON on stdout "
                   "(one line per clip)")
    p.add_argument("--csv", metavar="PATH", help="summary CSV (default for several clips: ./motionlens-summary.csv)")
    p.add_argument("--lang", help="language of the recommendations (en, es, fr, de, pt, it; default from $LANG)")


def cmd_analyze(a: argparse.Namespace) -> int:
    from motionlens.analyze import run

    return run(a)


def cmd_serve(a: argparse.Namespace) -> int:
    from api.serve import serve

    serve(a.storage, a.host, a.port)
    return 0


def cmd_keys(a: argparse.Namespace) -> int:
    from api.keys import DEFAULT_SCOPES, create_key, revoke_key
    from pipeline.storage import open_storage

    storage = open_storage(a.storage)
    try:
        if a.keys_cmd == "create":
            token, record = create_key(storage, a.owner, a.scope or DEFAULT_SCOPES)
            print(token)
            print(f"key {record.key_id} for {record.owner} with scopes {', '.join(record.scopes)} "
                  "(the token is shown only once)", file=sys.stderr)
        else:
            record = revoke_key(storage, a.token)
            print(f"revoked key {record.key_id} of {record.owner}", file=sys.stderr)
    except (ValueError, LookupError) as exc:
        print(f"error: invalid_key: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_server(a: argparse.Namespace) -> int:
    from motionlens.server import main as server_main

    return server_main(a.action, a.port)


def cmd_worker(a: argparse.Namespace) -> int:
    from flows.deployments import serve_deployments

    serve_deployments(a.storage)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionlens", description="Video -> pose, angles, metrics, annotated video.")
    sub = parser.add_subparsers(dest="command", required=True)
    _analyze_parser(sub)
    s = sub.add_parser("serve", help="serve the retrieval API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--storage")
    k = sub.add_parser("keys", help="create or revoke API keys")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    kc = ksub.add_parser("create")
    kc.add_argument("--owner", required=True)
    kc.add_argument("--scope", action="append", choices=("sessions:read", "exports:read", "videos:generate",
                                                         "sessions:write", "admin"))
    kc.add_argument("--storage")
    kr = ksub.add_parser("revoke")
    kr.add_argument("token", metavar="TOKEN_PREFIX_OR_ID")
    kr.add_argument("--storage")
    sv = sub.add_parser("server", help="a local Prefect server kept running between analyses (UI, run records)")
    sv.add_argument("action", choices=("start", "stop", "status"))
    sv.add_argument("--port", type=int, help="default 4200, else a free port")
    w = sub.add_parser("worker", help="serve the Prefect deployments (analysis, render, inbox schedule)")
    w.add_argument("--storage")
    return parser


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    handlers = {"analyze": cmd_analyze, "serve": cmd_serve, "keys": cmd_keys, "worker": cmd_worker,
                "server": cmd_server}
    try:
        return handlers[a.command](a)
    except PipelineError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
