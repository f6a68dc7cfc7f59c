"""Rosters in and out (issue 3): import messy Excel/CSV rosters and filled
entry sheets, generate sheet templates, export 附表2, compare with the police
platform's export. Usable without the CLI::

    from dossier.io import import_file, export_roster, compare_platform, write_template
    with dossier.open_archive(path, user="li", password=pw) as ar:
        res = import_file(ar, "名册.xlsx", scope="珠晖区/粤汉街道/苗圃社区", dry_run=True)
        print(res.summary(), [str(p) for p in res.problems])

Validation alone needs no archive: ``validate_book(path, today=date.today())``.
"""

from __future__ import annotations


def __getattr__(name):   # lazy: importing dossier.io stays cheap for the CLI
    from importlib import import_module

    where = {"import_file": "importer", "ImportResult": "importer", "validate_book": "validate",
             "Problem": "validate", "export_roster": "export", "compare_platform": "compare",
             "write_compare": "compare", "write_template": "templates", "read_book": "reader",
             "write_marked_copy": "report", "write_rejected": "report", "load_mapping": "columns"}
    if name in where:
        return getattr(import_module(f"{__name__}.{where[name]}"), name)
    raise AttributeError(name)


__all__ = ["import_file", "ImportResult", "validate_book", "Problem", "export_roster", "compare_platform",
           "write_compare", "write_template", "read_book", "write_marked_copy", "write_rejected", "load_mapping"]
