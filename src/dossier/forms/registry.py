"""The form registry: manifest entries, template lookup with overrides, prepared templates.

Lookup order for a form's Word file: ``--templates DIR``, then the archive's
``templates/`` directory, then the shipped ``templates/docx``. An override
directory may hold only some files (same file name as shipped, or
``<code>.docx``) and optionally its own ``manifest.yaml`` whose entries add
forms or replace shipped ones by code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dossier.errors import InvalidInput, TemplateError
from dossier.forms.fields import KINDS


def shipped_dir() -> Path:
    env = os.environ.get("DOSSIER_SHIPPED_TEMPLATES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for base in (here.parents[3], here.parents[1]):   # source checkout, or data installed in the package
        cand = base / "templates" / "docx"
        if (cand / "manifest.yaml").exists():
            return cand
    return here.parents[3] / "templates" / "docx"


@dataclass
class FormSpec:
    code: str
    title: str
    kind: str
    file: str
    path: Path
    aliases: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    select: str = "all"
    category: int | None = None
    masked: bool = False
    signature_blocks: list[dict] = field(default_factory=list)
    overridden: bool = False

    def to_dict(self) -> dict:
        d = {"code": self.code, "title": self.title, "kind": self.kind, "file": self.file,
             "aliases": self.aliases, "fields": self.fields, "masked": self.masked,
             "overridden": self.overridden, "template": str(self.path)}
        if self.columns:
            d["columns"] = self.columns
        if self.signature_blocks:
            d["signature_blocks"] = self.signature_blocks
        return d


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # the C loader reads the manifest ~10× faster


def _load_manifest(path: Path) -> list[dict]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader) or {}   # noqa: S506 - safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"模板清单“{path}”无法读取：{exc}") from exc
    forms = data.get("forms") if isinstance(data, dict) else None
    if not isinstance(forms, list):
        raise TemplateError(f"模板清单“{path}”格式错误：缺少 forms 列表")
    for f in forms:
        if not isinstance(f, dict) or not f.get("code") or f.get("kind") not in KINDS:
            raise TemplateError(f"模板清单“{path}”中有无效条目：{f!r}（需要 code，kind 为 {'/'.join(KINDS)}）")
    return forms


class Registry:
    def __init__(self, overrides: list[str | Path] | None = None, *, shipped: Path | None = None):
        self.shipped = Path(shipped or shipped_dir())
        self.overrides = [Path(p) for p in overrides or [] if p and Path(p).is_dir()]
        self._prepared: dict[str, object] = {}
        self._specs: dict[str, FormSpec] = {}
        entries: dict[str, tuple[dict, Path]] = {}
        if (self.shipped / "manifest.yaml").exists():
            for f in _load_manifest(self.shipped / "manifest.yaml"):
                entries[f["code"]] = (f, self.shipped)
        for d in reversed(self.overrides):  # the first override wins
            if (d / "manifest.yaml").exists():
                for f in _load_manifest(d / "manifest.yaml"):
                    base = entries.get(f["code"], ({}, d))[0]
                    entries[f["code"]] = ({**base, **f}, d)
        for code, (f, home) in entries.items():
            path, overridden = None, False
            for d in self.overrides:
                for name in (f.get("file"), f"{code}.docx"):
                    if name and (d / name).is_file():
                        path, overridden = d / name, True
                        break
                if path:
                    break
            path = path or (home / f.get("file", f"{code}.docx"))
            self._specs[code] = FormSpec(
                code=code, title=f.get("title", code), kind=f["kind"], file=f.get("file", f"{code}.docx"),
                path=path, aliases=list(f.get("aliases") or []), fields=list(f.get("fields") or []),
                columns=list(f.get("columns") or []), select=f.get("select", "all"),
                category=f.get("category"), masked=bool(f.get("masked")),
                signature_blocks=list(f.get("signature_blocks") or []), overridden=overridden)

    @classmethod
    def for_archive(cls, archive_path: str | Path | None = None, templates: str | Path | None = None):
        dirs = []
        if templates:
            if not Path(templates).is_dir():
                raise InvalidInput(f"模板目录不存在：{templates}")
            dirs.append(Path(templates))
        if archive_path and (Path(archive_path) / "templates").is_dir():
            dirs.append(Path(archive_path) / "templates")
        return cls(dirs)

    def forms(self) -> list[FormSpec]:
        return list(self._specs.values())

    def get(self, key: str) -> FormSpec:
        if key in self._specs:
            return self._specs[key]
        k = str(key).strip()
        for s in self._specs.values():
            if k == s.title or k in s.aliases or k == s.file or k == Path(s.file).stem:
                return s
        known = "、".join(f"{s.code}（{s.title}）" for s in self._specs.values())
        raise InvalidInput(f"未知文书“{key}”；可用：{known}", field="code")

    def prepared(self, key: str):
        spec = self.get(key)
        if spec.code not in self._prepared:
            from dossier.forms.render import PreparedTemplate
            if not spec.path.is_file():
                raise TemplateError(f"找不到文书“{spec.title}”的模板文件：{spec.path}", template=str(spec.path))
            self._prepared[spec.code] = PreparedTemplate(spec.path, spec.kind, name=spec.path.name)
        return self._prepared[spec.code]

    def fields_of(self, key: str) -> list[str]:
        """Fields the (possibly overridden) template really uses."""
        spec = self.get(key)
        if not spec.overridden and spec.fields:
            return spec.fields
        return sorted(self.prepared(key).fields)
