"""One worker of ``dossier serve --workers N`` (started by web/front.py, not by hand).

The whole application, as ``dossier serve`` runs it alone, on a Unix socket the
front bound in a private directory (passed as a file descriptor); its session
ids carry its number (the front routes by it); failed logins are counted by
the front for every worker; an administrator's "stop this user" reaches every
worker.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path

log = logging.getLogger("dossier.web")


def front_gone(fd: int):
    """What a worker does when its front is gone without stopping it (killed, crashed): it stops
    as on SIGTERM (its sessions end, their keys leave memory, audited) and removes its socket
    (the last one out removes the private directory): no worker holding keys outlives its front."""
    with socket.socket(fileno=os.dup(fd)) as s:
        path = Path(s.getsockname())

    def gone() -> None:
        log.warning("前端进程已结束，本工作进程随之停止")
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()
        except OSError:
            pass                        # another worker's socket is still there: the last one removes it
        os.kill(os.getpid(), signal.SIGTERM)
    return gone


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
    link.on_front_gone = front_gone(args.fd)
    link.start_events()
    run(app, fd=args.fd, behind_front=True, loaded=link.ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
