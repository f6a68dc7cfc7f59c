"""The signed 审批表 as an office files it (issue 14), through the real ``dossier`` executable:
users with full names, units and posts (``user add/edit/list``), each name and unit printed in
its step's box, the 会商结论 / 最终等级 / 下次复评日期 filled in where the form prints them,
every signature still valid for pdfsig and ``approve verify``, and a change the signatures do
not permit still refused."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest
from pypdf import PdfReader

from dossier.approve import pdfsign

DOSSIER = [sys.executable, "-m", "dossier"]
SCOPE = "珠晖区/粤汉街道/苗圃社区"
PERSON = {"name": "测试乙", "id_number": "11010519491231002X", "gender": "女", "phone": "13800000001"}
PW = "correct-horse-1"
# (login, role, step, full name, unit, post); the 会商 block is signed by the clerk who records it
PEOPLE = [("li", "clerk", None, "李秋菊", "苗圃社区居委会", "禁毒专干"),
          ("wang", "approver", "派出所核查", "王卫东", "粤汉派出所", "副所长"),
          ("chen", "approver", "街道审批", "陈启航", "粤汉街道办事处", None),
          ("liu", "approver", "区禁毒办备案", "刘素琴", "珠晖区禁毒办", None)]
STEP_SIGNER = {"社区初评": "li", "派出所核查": "wang", "会商": "li", "街道审批": "chen", "区禁毒办备案": "liu"}



class Arch:
    def __init__(self, tmp):
        self.tmp = tmp
        self.path = tmp / "archive"
        self.pwfile = tmp / "pw"
        self.pwfile.write_text(PW)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
        self.env.update(DOSSIER_KDF="weak-for-tests", DOSSIER_ARCHIVE=str(self.path),
                        DOSSIER_PASSWORD_FILE=str(self.pwfile), HOME=str(tmp))

    def run(self, user, *args, ok=True):
        cmd = [*DOSSIER, *(["--user", user] if user else []), *args]
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=self.tmp, timeout=120)
        if ok is True and r.returncode != 0:
            raise AssertionError(f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A full chain signed by users with full names and units; (archive, exported PDF path)."""
    a = Arch(tmp_path_factory.mktemp("people"))
    a.run(None, "init", "--name", "测试街道", "--admin", "admin")
    a.run("admin", "scope", "add", SCOPE)
    for name, role, step, full, unit, title in PEOPLE:
        a.run("admin", "user", "add", name, "--role", role, *(["--step", step] if step else []),
              "--scope", SCOPE, "--password-file", str(a.pwfile), "--full-name", full, "--unit", unit,
              *(["--title", title] if title else []))
    (a.tmp / "p.json").write_text(json.dumps(PERSON, ensure_ascii=False))
    a.ref = json.loads(a.run("li", "person", "add", "--scope", SCOPE, "--file", "p.json", "--json").stdout)["archive_no"]
    (a.tmp / "m.json").write_text(json.dumps({"date": "2024-05-01", "level": "高", "filed_with": "区禁毒办",
                                              "measures": ["每月见面核查两次"]}, ensure_ascii=False))
    a.run("li", "entry", "add", a.ref, "--type", "measure", "--file", "m.json")
    a.run("li", "approve", "submit", a.ref, "--level", "中", "--reason", "近期尿检阳性一次", "--date", "2024-05-06")
    a.run("wang", "approve", "sign", a.ref, "--step", "派出所核查", "--opinion", "经核查属实", "--date", "2024-05-07")
    # the 会商 raises the level to 高: the form must show the conclusion, not the proposal
    a.run("li", "approve", "meeting", a.ref, "--minutes", "〔2024〕第5期", "--date", "2024-05-08", "--conclusion", "高")
    a.run("chen", "approve", "sign", a.ref, "--step", "街道审批", "--opinion", "同意按高风险管控", "--date", "2024-05-09")
    a.run("liu", "approve", "sign", a.ref, "--step", "区禁毒办备案", "--opinion", "予以备案", "--date", "2024-05-10")
    out = a.tmp / "审批表-签批.pdf"
    a.run("liu", "approve", "export", a.ref, "-o", str(out))
    return a, out


def _words(pdf_path) -> list[tuple[int, str, tuple[float, float, float, float]]]:
    """(page, word, (x1, y1, x2, y2) in PDF points, y up) of every word pdftotext finds."""
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf_path), "-"], capture_output=True, text=True,
                         check=True).stdout
    out, page, height = [], -1, 842.0
    for line in xml.splitlines():
        m = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', line)
        if m:
            page += 1
            height = float(m.group(2))
            continue
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line)
        if m:
            x1, y1, x2, y2 = (float(v) for v in m.groups()[:4])
            out.append((page, m.group(5), (x1, height - y2, x2, height - y1)))
    return out


def _sig_rects(pdf: bytes) -> dict[str, tuple[int, list[float]]]:
    r = PdfReader(io.BytesIO(pdf))
    out = {}
    for i, page in enumerate(r.pages):
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/FT") == "/Sig" and "/T" in a:
                out[pdfsign.STEP_BY_FIELD[str(a["/T"])]] = (i, [float(v) for v in a["/Rect"]])
    return out


def _inside(box, rect, slack=1.0) -> bool:
    return (box[0] >= rect[0] - slack and box[2] <= rect[2] + slack
            and box[1] >= rect[1] - slack and box[3] <= rect[3] + slack)


def test_each_name_and_unit_is_printed_in_its_box(signed):
    a, out = signed
    pdf = out.read_bytes()
    rects = _sig_rects(pdf)
    words = _words(out)
    people = {p[0]: p for p in PEOPLE}
    for step, login in STEP_SIGNER.items():
        _, _, _, full, unit, title = people[login]
        page, rect = rects[step]
        inside = "".join(w for p, w, box in words if p == page and _inside(box, rect))
        assert full in inside and unit in inside, (step, inside)
        assert (title or "") in inside and f"签名：{login}" not in inside
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "会商结论：☐高 ☐中 ☐低" not in text
    assert re.search(r"会商结论：\s*☑高\s*☐中\s*☐低", text), text
    assert re.search(r"会议纪要编号：\s*〔2024〕第5期", text)
    layout = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True).stdout
    final = next(ln for ln in layout.splitlines() if "最终等级" in ln)
    assert re.search(r"最终等级\s+☑高\s*☐中\s*☐低\s+下次复评日期：2024-06-10", final), final   # 高: one month on


def test_pdfsig_and_approve_verify_accept_every_signature(signed):
    a, out = signed
    sigs = pdfsign.pdfsig_report(str(out))
    assert len(sigs) == 5 and all(s["valid"] for s in sigs), sigs
    assert [s["Signer Certificate Common Name"] for s in sigs] == ["li", "wang", "li", "chen", "liu"]
    v = json.loads(a.run("liu", "approve", "verify", str(out), "--json").stdout)
    assert v["ok"] and v["archive_checked"] and not v["problems"]
    sig = v["signatures"]
    assert [s["signer_full_name"] for s in sig] == ["李秋菊", "王卫东", "李秋菊", "陈启航", "刘素琴"]
    st = json.loads(a.run("li", "approve", "status", a.ref, "--json").stdout)
    assert [(s["signer_full_name"], s["signer_unit"]) for s in st["steps"]][1] == ("王卫东", "粤汉派出所")
    assert st["steps"][-1]["next_review"] == "2024-06-10"
    assert "王卫东，粤汉派出所" in a.run("liu", "approve", "verify", str(out)).stdout
    assert [s["signer_unit"] for s in sig][1:4] == ["粤汉派出所", "苗圃社区居委会", "粤汉街道办事处"]
    assert sig[0]["certified"] and all(s["modification"] in ("FORM_FILLING", "NONE") for s in sig)
    assert pdfsign.field_values(out.read_bytes())["Conclusion"] == "☑高 ☐中 ☐低"


def test_a_change_the_signatures_do_not_permit_fails(signed):
    """Page content appended after the signatures (an incremental update, earlier bytes kept as
    they are): pdfsig's byte ranges still hash, but `approve verify` refuses it (exit 20) — the
    signatures permit filling the form's fields and signing, nothing else."""
    from dossier.paper_stamp import stamp_pdf

    a, out = signed
    bad = a.tmp / "改动.pdf"
    bad.write_bytes(stamp_pdf(out.read_bytes(), "DP1" + "A" * 120, incremental=True))
    r = a.run("liu", "approve", "verify", str(bad), "--json", ok=False)
    assert r.returncode == 20, r.stdout + r.stderr
    problems = json.loads(r.stdout)["problems"]
    assert any("超出允许的范围" in p for p in problems), problems


def test_users_without_a_full_name_keep_working_and_are_listed_incomplete(signed):
    a, _ = signed
    a.run("admin", "user", "add", "zhou", "--role", "clerk", "--scope", SCOPE, "--password-file", str(a.pwfile))
    users = {u["name"]: u for u in json.loads(a.run("admin", "user", "list", "--json").stdout)}
    assert users["zhou"]["complete"] is False and users["zhou"]["full_name"] is None
    assert {k: users["wang"][k] for k in ("full_name", "unit", "title", "complete")} == \
        {"full_name": "王卫东", "unit": "粤汉派出所", "title": "副所长", "complete": True}
    text = a.run("admin", "user", "list").stdout
    zhou = next(ln for ln in text.splitlines() if ln.lstrip().startswith("zhou"))
    assert "信息不全" in zhou
    assert "信息不全" not in next(ln for ln in text.splitlines() if ln.lstrip().startswith("wang"))
    # the incomplete user works: it can read and write its scope
    assert a.run("zhou", "person", "list", "--json").returncode == 0
    # only an admin edits; the edit is audited and gives the user a certificate carrying the values
    r = a.run("li", "user", "edit", "zhou", "--full-name", "周若川", ok=False)
    assert r.returncode == 13, r.stderr
    info = json.loads(a.run("admin", "user", "edit", "zhou", "--full-name", "周若川", "--unit", "苗圃社区居委会",
                            "--json").stdout)
    assert info["complete"] and info["changed"] == ["full_name", "unit"]
    users = {u["name"]: u for u in json.loads(a.run("admin", "user", "list", "--json").stdout)}
    assert users["zhou"]["complete"] is True and users["zhou"]["unit"] == "苗圃社区居委会"
    assert a.run("admin", "user", "edit", "nobody", "--unit", "x", ok=False).returncode == 1
    assert a.run("admin", "user", "edit", "zhou", "--unit", "a" * 61, ok=False).returncode == 1
    evs = json.loads(a.run("admin", "audit", "log", "--action", "user.edit", "--json").stdout)
    assert [e["details"]["user"] for e in evs] == ["zhou"]
    a.run("admin", "audit", "verify")


def test_certificate_carries_the_person(signed):
    import sqlite3

    from dossier.crypto.ca import describe_cert, load_cert

    a, _ = signed
    con = sqlite3.connect(a.path / "meta.db")
    cert = bytes(con.execute("SELECT cert FROM users WHERE name='wang'").fetchone()[0])
    con.close()
    info = describe_cert(load_cert(cert))
    assert (info.name, info.full_name, info.unit, info.title, info.step) == \
        ("wang", "王卫东", "粤汉派出所", "副所长", "派出所核查")
    assert info.display_name == "王卫东（副所长）"


def test_a_seal_image_is_printed_in_the_stamp(tmp_path):
    """Optional: an image of the unit's seal, kept wrapped to its user's key, pressed on the stamp."""
    from PIL import Image, ImageDraw

    a = Arch(tmp_path)
    a.run(None, "init", "--name", "测试街道", "--admin", "admin")
    a.run("admin", "scope", "add", SCOPE)
    a.run("admin", "user", "add", "li", "--role", "clerk", "--scope", SCOPE, "--password-file", str(a.pwfile),
          "--full-name", "李秋菊", "--unit", "苗圃社区居委会")
    img = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(img).ellipse((10, 10, 290, 290), outline=(200, 0, 0), width=12)
    img.save(tmp_path / "公章.png")
    assert a.run("admin", "user", "edit", "li", "--seal", str(tmp_path / "p.json"), ok=False).returncode == 2
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert a.run("admin", "user", "edit", "li", "--seal", str(tmp_path / "bad.png"), ok=False).returncode == 1
    a.run("admin", "user", "edit", "li", "--seal", str(tmp_path / "公章.png"))
    users = {u["name"]: u for u in json.loads(a.run("admin", "user", "list", "--json").stdout)}
    assert users["li"]["seal"] is True
    assert (tmp_path / "公章.png").read_bytes()[:64] not in (a.path / "meta.db").read_bytes()
    (a.tmp / "p.json").write_text(json.dumps(PERSON, ensure_ascii=False))
    ref = json.loads(a.run("li", "person", "add", "--scope", SCOPE, "--file", "p.json", "--json").stdout)["archive_no"]
    a.run("li", "approve", "submit", ref, "--level", "低", "--reason", "戒断三年以上", "--date", "2024-05-06")
    out = a.tmp / "seal.pdf"
    a.run("li", "approve", "export", ref, "-o", str(out))
    r = PdfReader(io.BytesIO(out.read_bytes()))
    widget = next(an.get_object() for p in r.pages for an in p.get("/Annots") or []
                  if an.get_object().get("/T") == pdfsign.FIELD_NAMES["社区初评"])

    def images(xobj, depth=0):
        res = xobj.get("/Resources", {})
        found = 0
        for v in (res.get("/XObject") or {}).values():
            v = v.get_object()
            found += 1 if v.get("/Subtype") == "/Image" else (images(v, depth + 1) if depth < 4 else 0)
        return found

    assert images(widget["/AP"]["/N"].get_object()) >= 1
    assert all(s["valid"] for s in pdfsign.pdfsig_report(str(out)))
    a.run("li", "approve", "verify", str(out))
