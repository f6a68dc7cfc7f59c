"""One worker of ``dossier serve --workers N`` (started by web/front.py, not by hand).

The whole application, as ``dossier serve`` runs it alone, on a Unix socket the
front bound in a private directory (passed as a file descriptor); its session
ids carry its number (the front routes by it); failed logins are counted by
the front for every worker; an administrator's "stop this user" reaches every
worker.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dossier.web.worker")
    ap.add_argument("--archive", required=True)
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--calls-fd", type=int, required=True)
    ap.add_argument("--events-fd", type=int, required=True)
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args(argv)

    from .app import create_app, run
    from .shared import SharedFailedLogins, SharedThrottle, WorkerLink

    link = WorkerLink(args.index, args.calls_fd, args.events_fd)
    app = create_app(args.archive, tls=args.tls, worker=args.index)
    app.state.throttle = SharedThrottle(link)
    app.state.failed_logins = SharedFailedLogins(link)
    app.state.link = link
    link.on_end_user = app.state.sessions.end_user
    link.start_events()
    run(app, fd=args.fd, behind_front=True, loaded=link.ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
