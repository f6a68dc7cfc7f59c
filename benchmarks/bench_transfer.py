"""Benchmark for issue 13: a transfer bundle of 500 persons, 10 versions and one attachment each.

Archive A (粤汉街道) holds N persons (default 500), each built as clerks build
files: registered (version 1), eight entries (versions 2–9), one photo attached
(version 10, a 160×120 noisy PNG of ~50 KB, as a phone photo after re-encoding
keeps its noise). Times, with every hook on (the search index, the audit chain):

- ``transfer export`` of all N into one bundle (each version decrypted and
  verified, its data key unwrapped, each attachment decrypted, the payload
  sealed and signed; then the 迁出 version written to each file in A);
- ``transfer import`` of that bundle into a fresh archive B (signature, every
  author record, every version's hash, link, signature and sealed body
  verified before writing; data keys rewrapped; attachments sealed again;
  the search index built);
- ``check`` of B afterwards (received history verified too), for reference.

Size: the bundle against the sealed data it carries (the versions' sealed
bodies and the attachments, the payload's binary parts) and against what the
same dossiers occupy in A (version rows' sealed contents + attachment files).

    DOSSIER_KDF=weak-for-tests python benchmarks/bench_transfer.py [--persons 500]

Target: export < 30 s, import < 30 s.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")

A_PASS, B_PASS = "admin-pass-0001", "boss-pass-0001"
SCOPE_A, SCOPE_B = "珠晖区/粤汉街道/苗圃社区", "蒸湘区/联合街道/华新社区"


def photo(rng: random.Random) -> bytes:
    from PIL import Image

    im = Image.frombytes("RGB", (160, 120), bytes(rng.getrandbits(8) for _ in range(160 * 120 * 3)))
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


def build(path: Path, n: int, seed: int = 13) -> list[str]:
    import dossier
    from dossier import synth
    from dossier.forms.service import attach

    rng = random.Random(seed)
    dossier.init_archive(path, name="粤汉街道", admin="admin", password=A_PASS)
    refs = []
    with dossier.open_archive(path, user="admin", password=A_PASS) as ar:
        ar.scopes.add(SCOPE_A)
        from datetime import date
        today = date(2025, 6, 1)
        pic = photo(rng)
        with ar.batch(size_hint=n):
            for i in range(n):
                p = synth.person(rng, today=today)
                ref = ar.persons.add(SCOPE_A, p, today=today)
                for e in synth.entries(rng, p, today=today, n=8):
                    e = dict(e)
                    ar.entries.add(ref.archive_no, e.pop("type"), e, today=today)
                attach(ar, ref.archive_no, pic, "照片.png", title="本人照片", category="身份证明", today=today)
                refs.append(ref.archive_no)
    return refs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=500)
    args = ap.parse_args()
    import dossier
    from dossier.transfer import bundle as B
    from dossier.transfer import ensure, export, import_bundle

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        refs = build(tmp / "A", args.persons)
        print(f"built A: {len(refs)} persons in {time.perf_counter() - t:.1f} s", flush=True)
        dossier.init_archive(tmp / "B", name="蒸湘区禁毒办", admin="boss", password=B_PASS)
        with dossier.open_archive(tmp / "B", user="boss", password=B_PASS) as br:
            br.scopes.add(SCOPE_B)
            key_text = ensure(br).to_text()
        with dossier.open_archive(tmp / "A", user="admin", password=A_PASS) as ar:
            versions = ar.con.execute("SELECT COUNT(*), SUM(LENGTH(content)) FROM versions").fetchone()
            blob_bytes = sum(p.stat().st_size for p in (tmp / "A" / "objects").rglob("*") if p.is_file())
            t = time.perf_counter()
            res = export(ar, refs, key_text, reason="执行地变更", keep_copy=True,
                         write=lambda d: (tmp / "b.dtb").write_bytes(d))
            t_export = time.perf_counter() - t
        data = (tmp / "b.dtb").read_bytes()
        with dossier.open_archive(tmp / "B", user="boss", password=B_PASS) as br:
            from dossier.transfer.keys import private_keys
            bx = B.read(data)
            manifest, body = B.unpack(bx.open(private_keys(br)[0]))
            carried = len(body)
            t = time.perf_counter()
            imp = import_bundle(br, data, SCOPE_B, trust_fingerprint=res["from"]["root_fingerprint"])
            t_import = time.perf_counter() - t
            t = time.perf_counter()
            rep = br.check()
            t_check = time.perf_counter() - t
        size = len(data)
        print()
        print("| measure | figure | target |")
        print("|---|---|---|")
        print(f"| export {len(refs)} persons × {versions[0] // len(refs)} versions + 1 attachment | {t_export:.1f} s "
              f"({len(refs) / t_export:.0f} persons/s) | < 30 s |")
        print(f"| import into a fresh archive (verify all, then write; index built) | {t_import:.1f} s "
              f"({len(imp['persons']) / t_import:.0f} persons/s) | < 30 s |")
        print(f"| check of the receiving archive ({rep.versions} versions, received history) | {t_check:.1f} s, "
              f"ok={rep.ok} | — |")
        print(f"| bundle size | {size / 1e6:.1f} MB | report |")
        print(f"| … against the sealed data it carries (version bodies + attachments: {carried / 1e6:.1f} MB) | "
              f"{size / carried:.3f}× (manifest, keys, records: {(size - carried) / 1e6:.2f} MB) | report |")
        print(f"| … against A's own storage of these files (versions {versions[1] / 1e6:.1f} MB + objects "
              f"{blob_bytes / 1e6:.1f} MB) | {size / (versions[1] + blob_bytes):.3f}× | report |")


if __name__ == "__main__":
    main()
