"""Several server processes behind nginx, for a class on a machine with more than one core.

    python -m explorer.serve --processes 2 --port 8501

One Streamlit process runs its scripts under one GIL: on 2 cores it uses about one. This starts P
`streamlit run app.py` processes on loopback ports and nginx (Debian's package) in front of them on --port.
Streamlit keeps a session on one websocket, and a page's files and uploads must reach the process that holds
the session, so nginx routes by a cookie it sets on the first request (a random route id, hashed onto the
processes): each browser stays on one process, new browsers spread over all. Models are read-only and
sessions share nothing, so the same recipe grows past one machine: replicas behind any load balancer with
sticky sessions. Each process loads its own models (memory: P times a process, see EXPLORER_MEMORY_MB).

Ctrl-C (or SIGTERM) stops nginx and every process.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COOKIE = "explorer_route"

NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size {upload_mb}m;

    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    # sticky sessions: a browser's cookie names its route; a browser without one gets a random one
    map $cookie_{cookie} $route {{ "" $request_id; default $cookie_{cookie}; }}

    upstream explorer {{
        hash $route consistent;
{servers}
    }}

    server {{
        listen {address}:{port};
        location / {{
            proxy_pass http://explorer;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
            add_header Set-Cookie "{cookie}=$route; Path=/; HttpOnly; SameSite=Lax" always;
            add_header X-Explorer-Process $upstream_addr always;
        }}
    }}
}}
"""


def nginx_conf(ports: list[int], port: int, address: str, folder: str, upload_mb: int = 6) -> str:
    """nginx's configuration: `port` on `address` in front of the processes on `ports` (loopback)."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""    # workers drop root when started as root
    return NGINX_CONF.format(dir=folder, user=user, servers=servers, port=port, address=address, cookie=COOKIE,
                             upload_mb=upload_mb)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, procs: list[subprocess.Popen], seconds: float = 120) -> None:
    end = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return
        except Exception:
            if any(p.poll() is not None for p in procs) or time.time() > end:
                raise SystemExit(f"a server process did not start ({url})")
            time.sleep(0.5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Several Transformer Explorer processes behind nginx, sticky sessions.")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="server processes (default: CPUs)")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default="127.0.0.1", help="where nginx listens (0.0.0.0: every interface)")
    ap.add_argument("--entry", default="app.py", help="the app's entry script (cloud/streamlit_app.py works too)")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    a = ap.parse_args(argv)
    if not Path(a.nginx).is_file():
        print("nginx is not installed: sudo apt-get install -y nginx", file=sys.stderr)
        return 2

    folder = tempfile.mkdtemp(prefix="explorer-serve-")
    os.chmod(folder, 0o755)
    ports = [free_port() for _ in range(max(1, a.processes))]
    secret = secrets.token_hex(16)          # one cookie secret: any process accepts what another signed
    procs: list[subprocess.Popen] = []

    def stop():
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(folder, ignore_errors=True)

    def quit_(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, quit_)
    signal.signal(signal.SIGINT, quit_)
    try:
        for port in ports:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", a.entry, "--server.headless=true",
                 f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
                cwd=ROOT, env=dict(os.environ, STREAMLIT_SERVER_COOKIE_SECRET=secret)))
        for port in ports:
            wait_healthy(f"http://127.0.0.1:{port}", procs)
        conf = Path(folder) / "nginx.conf"
        conf.write_text(nginx_conf(ports, a.port, a.address, folder))
        procs.append(subprocess.Popen([a.nginx, "-c", str(conf), "-p", folder, "-g", "daemon off;"]))
        print(f"Transformer Explorer: {len(ports)} processes behind nginx on http://{a.address}:{a.port}",
              flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print("a process stopped; stopping the rest", file=sys.stderr)
        return 1
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
