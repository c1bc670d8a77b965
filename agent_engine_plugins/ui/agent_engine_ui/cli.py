"""``agent-engine ui``: serve the web inspector for a project, or export one run as a self-contained page."""

from __future__ import annotations

import ipaddress
import socket
import sys
import webbrowser
from pathlib import Path

import click

__all__ = ["DEFAULT_PORT", "is_loopback", "ui"]

DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bound(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a usage error saying why there cannot be one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.UsageError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
    except OSError as exc:
        listening.close()
        hint = " (another program uses it: pick another --port, or --port 0 for any free one)" \
            if exc.errno == 98 else ""  # noqa: PLR2004 - EADDRINUSE
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    listening.listen(128)
    return listening


@click.command(short_help="Serve a local web inspector of the project's runs (or --export one run).")
@click.argument("config_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but localhost lets other machines read the runs.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the runs page in the default browser.")
@click.option("--export", "export", nargs=2, metavar="RUN_ID FILE.html", default=None,
              help="Write run RUN_ID as one self-contained HTML file instead of serving.")
def ui(config_dir: Path, host: str, port: int, open_browser: bool, export: tuple[str, str] | None) -> None:
    """Serve the runs of the project in CONFIG_DIR at http://HOST:PORT/: runs, graphs, stages, diffs, approvals.

    Everything the pages need is inside the package; they fetch nothing from anywhere else. The run store is
    only read; approving or rejecting a waiting run and replaying from a node run the project's engine.
    """
    if export is not None:
        from agent_engine_ui.export import export_run  # noqa: PLC0415 - jinja2 loads only when used

        run_id, target = export[0], Path(export[1])
        if not target.parent.is_dir():
            raise click.UsageError(f"--export: the folder of {target} does not exist")
        size = export_run(config_dir, run_id, target)
        click.echo(f"wrote run {run_id} to {target} ({size:,} bytes, self-contained)")
        return
    import uvicorn  # noqa: PLC0415 - the server loads only when it is started

    from agent_engine_ui.app import create_app  # noqa: PLC0415

    listening = _bound(host, port)
    app = create_app(config_dir, host=host)
    actual = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{actual}/"
    click.echo(f"Agent Engine inspector for {config_dir}: {url}")
    if is_loopback(host):
        click.echo("listening on this machine only (--host to change); Ctrl-C stops it")
    else:
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can read these runs and "
                   "decide their approvals", err=True)
    sys.stdout.flush()
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then re-raised the Ctrl-C it caught: nothing is wrong
        pass
    click.echo("inspector stopped")
