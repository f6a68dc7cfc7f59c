"""The server's log: request lines without their query strings."""

from __future__ import annotations

import logging


class NoQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access: (client, method, path with query, http version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def uvicorn_log_config() -> dict:
    """uvicorn's logging, with request lines that carry the path only (never a query:
    the pages put no personal data in a URL, and a filter's values stay out too)."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"nq": {"()": "dossier.web.logs.NoQuery"}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
        "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["nq"],
                             "stream": "ext://sys.stderr"}},
        "loggers": {"uvicorn": {"handlers": ["out"], "level": "INFO", "propagate": False},
                    "uvicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
                    "dossier": {"handlers": ["out"], "level": "INFO", "propagate": False}},
    }


def configure_front_logging() -> None:
    """The front of ``serve --workers`` logs with the workers' format (its own lines only:
    the request lines are the workers')."""
    import logging.config

    cfg = uvicorn_log_config()
    logging.config.dictConfig(cfg)
