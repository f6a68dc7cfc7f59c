"""dossier — 禁毒“一人一档”加密档案库。

Library first: everything the CLI does is callable from here::

    import dossier
    dossier.init_archive("archive", name="粤汉街道", admin="admin", password=pw)
    with dossier.open_archive("archive", user="li", password=pw) as ar:
        ref = ar.persons.add("珠晖区/粤汉街道/苗圃社区", {...})
"""

__version__ = "0.1.0"


def init_archive(*args, **kwargs):
    from .api import init_archive as _init

    return _init(*args, **kwargs)


def open_archive(*args, **kwargs):
    from .api import open_archive as _open

    return _open(*args, **kwargs)
