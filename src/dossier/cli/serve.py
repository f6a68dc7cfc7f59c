"""``dossier serve``: the office in a browser."""

from __future__ import annotations

import ipaddress

import click

from ..config import UsageError


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址；0.0.0.0 表示本机所有网卡（办公局域网）")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535), help="端口")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="TLS 证书（PEM）")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="TLS 私钥（PEM）")
@click.option("--tls-self-signed", is_flag=True,
              help="用档案库自己的 CA 签发服务器证书（须以管理员身份运行；CA 证书用 dossier approve ca-cert 导出后装到各电脑）")
@click.option("--insecure-http", is_flag=True, help="在非本机地址上也用明文 HTTP（不建议：口令和档案内容会明文经过网络）")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="工作进程数：多人同时使用的服务器设为 CPU 核数（每个会话固定在一个进程内）")
@click.option("--trust-proxy", "trust_proxy", multiple=True, metavar="ADDR",
              help="前面的反向代理/负载均衡器的地址（可多次给出）：只采信它转来的 X-Forwarded-For 作为来访地址")
@click.pass_obj
def serve(env, host, port, tls_cert, tls_key, tls_self_signed, insecure_http, workers, trust_proxy):
    """在浏览器中使用档案库：工作台、人员档案、录入、附件、检索、签批……

    \b
    示例：
      dossier serve                                  # 本机：http://127.0.0.1:8700
      dossier serve --host 0.0.0.0 --port 8443 --tls-cert office.pem --tls-key office.key
      DOSSIER_USER=admin dossier serve --host 0.0.0.0 --tls-self-signed
      DOSSIER_USER=admin dossier serve --host 0.0.0.0 --tls-self-signed --workers 4   # 4 核的服务器

    \b
    每位用户在浏览器中用自己的用户名和口令登录；密钥只保存在本进程内存中，
    退出登录、15 分钟无操作、10 小时后或服务重启时清除。非本机地址必须使用 TLS。
    """
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from ..api import read_config

    path = env.archive_path
    read_config(path)
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert 与 --tls-key 须同时给出")
    if tls_self_signed and tls_cert:
        raise UsageError("--tls-self-signed 与 --tls-cert 只能用一个")
    tls = bool(tls_cert or tls_self_signed)
    for addr in trust_proxy:
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise UsageError(f"--trust-proxy 须为 IP 地址：{addr}") from None
    if not tls and not is_loopback(host) and not insecure_http:
        raise UsageError(f"在非本机地址 {host} 上提供服务必须使用 TLS（--tls-cert/--tls-key 或 --tls-self-signed）；"
                         "确需明文 HTTP 请加 --insecure-http")
    tmp = None
    try:
        if tls_self_signed:
            tmp = tempfile.mkdtemp(prefix="dossier-tls-")
            os.chmod(tmp, 0o700)
            tls_key, tls_cert = _self_signed(env, host, Path(tmp))
        scheme = "https" if tls else "http"
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        loaded = (lambda: shutil.rmtree(tmp, ignore_errors=True)) if tmp else None
        if workers > 1:
            from ..web.front import serve_workers

            serve_workers(path, workers, host=host, port=port, tls=tls, certfile=tls_cert, keyfile=tls_key,
                          loaded=loaded, trusted_proxies=trust_proxy, ready=lambda: click.echo(
                              f"档案库 {path} 已在 {scheme}://{shown}:{port}/ 提供服务，"
                              f"{workers} 个工作进程（Ctrl-C 停止）"))
            return
        from ..web.app import create_app, run

        app = create_app(path, tls=tls)
        click.echo(f"档案库 {path} 已在 {scheme}://{shown}:{port}/ 提供服务（Ctrl-C 停止）")
        run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key, loaded=loaded,
            trusted_proxies=trust_proxy)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _self_signed(env, host: str, where) -> tuple[str, str]:
    import socket

    from ..approve.hooks import load_ca
    from ..store.atomic import atomic_write

    with env.open() as ar:
        ca = load_ca(ar)
        hosts = [h for h in (host if host not in ("0.0.0.0", "::") else None, socket.gethostname(),
                             "localhost", "127.0.0.1") if h]
        key_pem, cert_pem = ca.issue_server(hosts)
        cert_pem += ca.cert_pem
    atomic_write(where / "server.key", key_pem, mode=0o600)
    atomic_write(where / "server.pem", cert_pem, mode=0o600)
    return str(where / "server.key"), str(where / "server.pem")
