"""Settings of the web face, from the ``[web]`` table of archive.toml.

```toml
[web]
idle_minutes = 15          # a session left alone this long ends
absolute_hours = 10        # and every session ends after a working day
max_upload_mb = 20         # uploads (rosters, scans, photos)
login_failures = 5         # failed logins per user or per client address …
login_window_minutes = 15  # … within this window, then further tries are refused for a while
```
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import InvalidInput


@dataclass(frozen=True)
class WebSettings:
    idle_minutes: float = 15
    absolute_hours: float = 10
    max_upload_mb: float = 20
    login_failures: int = 5
    login_window_minutes: float = 15
    page_size: int = 50

    @property
    def idle_s(self) -> float:
        return self.idle_minutes * 60

    @property
    def absolute_s(self) -> float:
        return self.absolute_hours * 3600

    @property
    def max_upload(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_config(cls, cfg: dict) -> "WebSettings":
        table = dict(cfg.get("web") or {})
        known = {f.name: f for f in fields(cls)}
        out = {}
        for k, v in table.items():
            if k not in known:
                raise InvalidInput(field=f"web.{k}", reason="archive.toml 的 [web] 中没有这一项；可用："
                                                            + "、".join(known))
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise InvalidInput(field=f"web.{k}", reason="应为正数")
            out[k] = v
        return cls(**out)
