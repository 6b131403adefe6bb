"""Commands around the daemon: run, watch, token, history, rollback, resume."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.logs import configure_json_logging

if TYPE_CHECKING:
    from reconciler.engine import Engine
    from reconciler.store.db import Database

EXIT_OK, EXIT_ERROR = 0, 1
PINNED = "pinned_revision"


def _seconds(text: str) -> float:
    from reconciler.desired.units import seconds

    value = seconds(text) if not text.replace(".", "", 1).isdigit() else float(text)
    if value <= 0:
        raise SystemExit(f"error: {text!r} is not a positive duration such as 30s or 5m")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from reconciler.api.server import serve
    from reconciler.daemon.service import Daemon, DaemonSettings, lock_state_dir

    if not args.repo:
        print("error: --repo (or RECONCILER_REPO) is required", file=sys.stderr)
        return EXIT_ERROR
    configure_json_logging()
    state_dir = Path(args.state_dir)
    lock = lock_state_dir(state_dir)
    try:
        settings = DaemonSettings(
            repo=args.repo,
            branch=args.branch,
            path=args.path,
            state_dir=state_dir,
            listen=args.listen,
            interval=_seconds(args.interval),
            age_identity=Path(args.age_identity) if args.age_identity else None,
            secrets_dir=Path(args.secrets_dir) if args.secrets_dir else None,
        )
        asyncio.run(serve(Daemon(settings)))
    finally:
        lock.close()
    return EXIT_OK


def _database(args: argparse.Namespace) -> Database:
    from reconciler.store.db import Database

    path = Path(args.state_dir) / "state.db"
    if not path.exists():
        raise SystemExit(f"error: no state database at {path}; has `reconciler run` started here?")
    return Database(path)


def cmd_token(args: argparse.Namespace) -> int:
    from reconciler.store.db import Database
    from reconciler.store.tokens import TokenStore

    db = Database(Path(args.state_dir) / "state.db")
    tokens = TokenStore(db)
    if args.token_command == "create":
        scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
        print(tokens.create(args.name, scopes))
        print("store it now: it is shown only once", file=sys.stderr)
    elif args.token_command == "list":
        for info in tokens.list():
            used = info.last_used_at or "never"
            granted = ",".join(sorted(info.scopes))
            print(f"{info.name}\t{granted}\tcreated {info.created_at}\tused {used}")
    elif not tokens.revoke(args.name):
        print(f"error: no token named {args.name!r}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from reconciler.store.deployments import DeploymentLog

    db = _database(args)
    deployments = DeploymentLog(db).list(limit=args.limit)
    if args.json:
        print(json.dumps([d.to_dict() for d in deployments], indent=2))
        return EXIT_OK
    for d in deployments:
        head = f"{d.id:5} {d.started_at}  {d.status:9} {d.revision[:12]:12} {d.trigger:8}"
        print(f"{head} {d.subject[:50]}")
        for error in d.errors[:5]:
            print(f"      {error}")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from reconciler.store.deployments import DeploymentLog

    db = _database(args)
    deployment = DeploymentLog(db).get(args.deployment)
    if deployment is None:
        print(f"error: no deployment {args.deployment}", file=sys.stderr)
        return EXIT_ERROR
    if deployment.status == "refused":
        print(
            f"error: deployment {deployment.id} was refused; its revision never ran",
            file=sys.stderr,
        )
        return EXIT_ERROR
    db.set_meta(PINNED, deployment.revision)
    print(f"pinned to {deployment.revision[:12]} ({deployment.subject}); auto-sync suspended")
    print("the daemon applies it on its next pass; `reconciler resume` follows the branch again")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    db = _database(args)
    db.set_meta(PINNED, None)
    print("unpinned: the daemon follows its branch again from its next pass")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace, engine_factory: Callable[[], Engine]) -> int:
    """Apply on every save: bursts of writes (an editor's save, a git checkout) become one pass."""
    import watchfiles

    from reconciler.manifests.loader import resolve_root
    from reconciler.plan.render import plan_to_text
    from reconciler.state.errors import ManifestErrors, ReconcilerError

    engine = engine_factory()
    root, _ = resolve_root(Path(args.path))
    debounce_ms = int(_seconds(args.debounce) * 1000)

    def one_pass() -> None:
        try:
            print(plan_to_text(engine.prepare(Path(args.path)).plan), flush=True)
            outcome = engine.reconcile(Path(args.path))
            if not outcome.result.converged:
                for name, reason in sorted(outcome.result.failures.items()):
                    print(f"failed: {name}: {reason}", flush=True)
        except ManifestErrors as e:
            print(e.render() + "\nnot applied; fix the errors and save again", flush=True)
        except ReconcilerError as e:
            print(f"error: {e}", flush=True)

    one_pass()
    print(f"watching {root} (Ctrl-C to stop)", flush=True)
    ignored = (".git", ".reconciler", "__pycache__")
    for changes in watchfiles.watch(
        root,
        debounce=debounce_ms,
        watch_filter=lambda _, path: not any(part in ignored for part in Path(path).parts),
    ):
        names = sorted({str(Path(path).relative_to(root)) for _, path in changes})
        print(f"changed: {', '.join(names)}", flush=True)
        one_pass()
    return EXIT_OK
