"""One error tree for the whole library.

Every expected failure is a :class:`DossierError` subclass carrying a Chinese
message for users and an exit code (the scripting contract in README). The
library never calls ``sys.exit``; the CLI maps these to exit codes in one
place (``dossier.cli.main``).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INVALID = 1
    USAGE = 2
    NO_ARCHIVE = 10
    LOCKED = 11
    WRONG_PASSWORD = 12
    PERMISSION = 13
    STORE_UNAVAILABLE = 14
    INTEGRITY = 20
    AUDIT_CHAIN = 21
    TEMPLATE = 30
    DISCLOSURE = 31
    INTERRUPTED = 130


class DossierError(Exception):
    """操作失败。"""

    exit_code: ExitCode = ExitCode.INVALID

    def __init__(self, message: str | None = None, **details):
        self.details = details
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message,
                "exit_code": int(self.exit_code), **{k: v for k, v in self.details.items()
                                                      if isinstance(v, (str, int, float, bool, type(None), list))}}


class InvalidInput(DossierError):
    """输入无效。"""

    exit_code = ExitCode.INVALID

    def __init__(self, message: str | None = None, *, field: str | None = None,
                 reason: str | None = None, **details):
        if message is None and field is not None:
            message = f"字段“{field}”无效：{reason}" if reason else f"字段“{field}”无效"
        super().__init__(message, field=field, reason=reason, **details)
        self.field = field
        self.reason = reason


class ValidationErrors(InvalidInput):
    """Several invalid fields at once (each an :class:`InvalidInput`)."""

    def __init__(self, errors: list[InvalidInput]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e.message}" for e in self.errors)
        super().__init__(f"输入有 {len(self.errors)} 处错误，未写入任何内容：\n{lines}")
        self.field = self.errors[0].field if self.errors else None


class RefusedOperation(DossierError):
    """操作被拒绝。"""

    exit_code = ExitCode.INVALID


class VersionConflict(RefusedOperation):
    """Someone else saved a newer version since the one this change was based on.

    ``changes`` lists what changed in between (the diff's rows), so the person
    can look and apply their change again: never a silent overwrite."""

    def __init__(self, message: str | None = None, *, base: int = 0, head: int = 0,
                 changes: list | None = None, **details):
        super().__init__(message or f"档案已被他人修改（您依据第 {base} 版，现为第 {head} 版），未保存；"
                                    "请查看变化后重新修改", **details)
        self.base = base
        self.head = head
        self.changes = list(changes or [])


class NotFound(DossierError):
    """找不到对象。"""

    exit_code = ExitCode.INVALID


class NoArchive(DossierError):
    """该路径下没有档案库。"""

    exit_code = ExitCode.NO_ARCHIVE


class ArchiveExists(DossierError):
    """该路径下已有档案库。"""

    exit_code = ExitCode.INVALID


class Locked(DossierError):
    """档案库正被其他进程占用，等待超时，请稍后重试。"""

    exit_code = ExitCode.LOCKED


class StoreUnavailable(DossierError):
    """The archive's database server (PostgreSQL) cannot be reached or dropped the
    connection; nothing of the interrupted transaction was written."""

    exit_code = ExitCode.STORE_UNAVAILABLE


class WrongPassword(DossierError):
    """用户名或口令错误。"""

    exit_code = ExitCode.WRONG_PASSWORD


class PermissionDenied(DossierError):
    """权限不足：当前用户的角色或辖区不允许此操作。"""

    exit_code = ExitCode.PERMISSION


class IntegrityError(DossierError):
    """完整性校验失败：数据被篡改或损坏。"""

    exit_code = ExitCode.INTEGRITY


class AuditChainError(DossierError):
    """审计链断裂。"""

    exit_code = ExitCode.AUDIT_CHAIN


class TemplateError(DossierError):
    """模板错误。"""

    exit_code = ExitCode.TEMPLATE


class DisclosureRefused(DossierError):
    """披露被拒绝（未授权、已过期、已撤销或检测到泄露）。"""

    exit_code = ExitCode.DISCLOSURE


class MissingDependency(DossierError):
    """缺少系统组件。"""

    exit_code = ExitCode.INVALID
