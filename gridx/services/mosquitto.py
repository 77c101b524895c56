"""A project-local mosquitto broker: TLS only, password file, ACL file, persistence.

Certificates and passwords are generated into a private directory (0700/0600), never the
repo. The same generated layout backs tests, benchmarks and ``make demo``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gridx.errors import ServiceError
from gridx.paths import ROOT, ensure_private_dir, write_private
from gridx.services._proc import free_port, run_tool, stop_process, wait_for_port
from gridx.wire import is_gateway_user

__all__ = ["MosquittoBroker", "ensure_pki", "render_acl"]

ACL_TEMPLATE = ROOT / "mosquitto" / "aclfile"


def render_acl(template: str, gateways: list[str]) -> str:
    """The ACL file: the template's gateway block once per gateway user, the rest as is
    (a template without the markers is used verbatim)."""
    if "#@gateway-begin\n" not in template:
        return template
    head, rest = template.split("#@gateway-begin\n", 1)
    block, tail = rest.split("#@gateway-end\n", 1)
    return head + "".join(block.replace("@GATEWAY@", g) for g in sorted(gateways)) + tail


def _openssl(*args: str) -> None:
    run_tool(["openssl", *args])


def ensure_pki(pki: Path) -> Path:
    """CA and a server certificate for 127.0.0.1/localhost (idempotent)."""
    ensure_private_dir(pki)
    ca_key, ca_crt = pki / "ca.key", pki / "ca.crt"
    srv_key, srv_csr, srv_crt = pki / "server.key", pki / "server.csr", pki / "server.crt"
    if not ca_crt.exists():
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(ca_key),
            "-out",
            str(ca_crt),
            "-days",
            "3650",
            "-subj",
            "/CN=GridTokenX local CA",
        )
    if not srv_crt.exists():
        _openssl(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(srv_key),
            "-out",
            str(srv_csr),
            "-subj",
            "/CN=localhost",
        )
        ext = pki / "server.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            str(srv_csr),
            "-CA",
            str(ca_crt),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(srv_crt),
            "-days",
            "825",
            "-extfile",
            str(ext),
        )
    for key in (ca_key, srv_key):
        key.chmod(0o600)
    return pki


def _mosquitto_bin() -> str:
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if cand and Path(cand).exists():
            return cand
    raise ServiceError("mosquitto not installed; run `make setup`")


@dataclass
class MosquittoBroker:
    """Broker with its own work dir; ``users`` maps username → password."""

    workdir: Path
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def add_user(self, username: str, password: str | None = None) -> str:
        """Add (or keep) a user; returns its password. Takes effect on the running broker."""
        pw = self.users.setdefault(username, password or secrets.token_urlsafe(18))
        if self.proc is not None:
            self._write_passwords()
            self._write_acl()
            self.proc.send_signal(signal.SIGHUP)  # re-reads the password and ACL files
        return pw

    def _write_passwords(self) -> None:
        pwfile = self.workdir / "passwd"
        write_private(pwfile, b"")
        for user, pw in self.users.items():
            run_tool(["mosquitto_passwd", "-b", str(pwfile), user, pw], what="mosquitto_passwd")
        pwfile.chmod(0o600)

    def _write_acl(self) -> Path:
        acl = self.workdir / "aclfile"
        acl.write_text(render_acl(ACL_TEMPLATE.read_text(), [u for u in self.users if is_gateway_user(u)]))
        return acl

    def _write_config(self) -> Path:
        pki = ensure_pki(self.workdir / "pki")
        (self.workdir / "data").mkdir(exist_ok=True)
        acl = self._write_acl()
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self.workdir / 'passwd'}",
            f"acl_file {acl}",
            "persistence true",
            f"persistence_location {self.workdir / 'data'}/",
            "autosave_interval 1",
            "max_queued_messages 1000000",
            "max_inflight_messages 1000",
            "max_packet_size 1048576",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            # a local dev broker started by root keeps root rather than needing a mosquitto user
            *(["user root"] if os.geteuid() == 0 else []),
            f"listener {self.port} 127.0.0.1",
            "protocol mqtt",
            # sessions belong to the authenticated user: a guessed client id takes over nothing
            # (a listener setting, also with per_listener_settings false)
            "use_username_as_clientid true",
            f"cafile {pki / 'ca.crt'}",
            f"certfile {pki / 'server.crt'}",
            f"keyfile {pki / 'server.key'}",
            "tls_version tlsv1.2",
        ]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 15.0) -> MosquittoBroker:
        ensure_private_dir(self.workdir)
        conf = self._write_config()
        self._write_passwords()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [_mosquitto_bin(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for_port(self.port, self.proc, timeout, self.log_path)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
