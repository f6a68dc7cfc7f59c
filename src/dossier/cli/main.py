"""The ``dossier`` command: a root group whose subcommands are loaded lazily
(so ``dossier --help`` stays fast), and the one place where library errors
become exit codes."""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import DossierError, ExitCode

# command name -> "module:attribute"; a module that is not there yet is skipped
COMMANDS = {
    "init": "dossier.cli.archive_cmds:init",
    "scope": "dossier.cli.archive_cmds:scope",
    "user": "dossier.cli.archive_cmds:user",
    "passwd": "dossier.cli.archive_cmds:passwd",
    "check": "dossier.cli.archive_cmds:check",
    "gc": "dossier.cli.archive_cmds:gc",
    "migrate": "dossier.cli.archive_cmds:migrate",
    "person": "dossier.cli.persons:person",
    "entry": "dossier.cli.persons:entry",
    "show": "dossier.cli.persons:show",
    "history": "dossier.cli.persons:history",
    "diff": "dossier.cli.persons:diff",
    "demo": "dossier.cli.demo:demo",
    # issue 3 — rosters
    "import": "dossier.cli.roster:import_cmd",
    "sheet": "dossier.cli.roster:sheet",
    "export": "dossier.cli.roster:export",
    "compare": "dossier.cli.roster:compare",
    # issue 4 — forms
    "form": "dossier.cli.forms:form",
    "template": "dossier.cli.templates_cmd:template",
    "meeting": "dossier.cli.meetings:meeting",
    "attach": "dossier.cli.attach:attach",
    "bind": "dossier.cli.bind:bind",
    # issue 5 — search
    "search": "dossier.cli.search:search",
    "index": "dossier.cli.search:index",
    # issue 6 — approvals, disclosure, audit
    "approve": "dossier.cli.approve:approve",
    "disclose": "dossier.cli.disclose:disclose",
    "audit": "dossier.cli.audit_cmd:audit",
    # issue 7 — campaigns, reports, inspection
    "campaign": "dossier.cli.campaigns:campaign",
    "report": "dossier.cli.reports:report",
    "inspect": "dossier.cli.inspect_cmd:inspect",
    "verify-paper": "dossier.cli.inspect_cmd:verify_paper",
    # issue 11 — the browser
    "serve": "dossier.cli.serve:serve",
    "agenda": "dossier.cli.agenda:agenda",
    # issue 13 — transfers between archives
    "transfer": "dossier.cli.transfer:transfer",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        import importlib.util

        names = []
        for name, target in COMMANDS.items():
            mod = target.split(":")[0]
            if importlib.util.find_spec(mod) is not None:
                names.append(name)
        return names

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        mod, attr = target.split(":")
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                return None
            raise
        return getattr(module, attr, None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--archive", "archive", metavar="PATH", help="档案库目录（默认 ./archive，或环境变量 DOSSIER_ARCHIVE）")
@click.option("--user", "user", metavar="NAME", help="用户名（或环境变量 DOSSIER_USER）")
@click.version_option(package_name="dossier", prog_name="dossier")
@click.pass_context
def cli(ctx, archive, user):
    """dossier —— 禁毒“一人一档”加密档案库。

    \b
    口令来源（只能用一个）：DOSSIER_PASSWORD、DOSSIER_PASSWORD_FILE、
    DOSSIER_PASSWORD_COMMAND，或在终端提示时输入。

    \b
    示例：
      dossier init --name 粤汉街道 --admin admin
      dossier scope add 珠晖区/粤汉街道/苗圃社区
      dossier --user li person add --scope 珠晖区/粤汉街道/苗圃社区 --file person.yaml
      dossier --user li show 430405199001011233 --json

    \b
    退出码：0 成功；1 输入无效或操作被拒绝；2 用法错误；10 无档案库；11 档案库被占用；
    12 口令错误或用户不存在；13 权限不足；20 完整性校验失败；21 审计链断裂；
    30 模板错误；31 披露被拒绝；130 中断。
    """
    from .common import Env

    ctx.obj = Env(archive_option=archive, user_option=user)


def main(argv=None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="dossier", standalone_mode=False)
    except DossierError as e:
        from .common import print_error

        print_error(e)
        sys.exit(int(e.exit_code))
    except click.exceptions.Abort:
        click.echo("\n已中断。", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        click.echo("\n已中断。", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.ClickException as e:
        from .usage_zh import show

        show(e)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
