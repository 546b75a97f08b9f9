"""A real Mosquitto for the tests: the system package's binary, on a free loopback port, with a
configuration of the test's own (anonymous, with a password file, or with TLS)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mosquitto:
    """One broker process. ``users`` turns authentication on; ``tls`` is ``(cafile, certfile,
    keyfile)`` for a TLS listener (then ``port`` speaks TLS only); ``options`` are further
    ``mosquitto.conf`` lines."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,
        acl: str | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="massagectl-mosquitto-"))
        self.port = free_port()
        self.users = users or {}
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
        if os.geteuid() == 0:
            # Started as root, Mosquitto drops to its own user, which cannot read this test's
            # private folder (password file, certificates): stay as we are.
            lines.append("user root")
        if self.users:
            passwd = self.dir / "passwd"
            passwd.touch(mode=0o600)
            for user, password in self.users.items():
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            (self.dir / "acl").write_text(acl)
            lines.append(f"acl_file {self.dir / 'acl'}")
        lines += [line for line in options if line not in lines]
        if tls is not None:
            cafile, certfile, keyfile = tls
            lines += [f"cafile {cafile}", f"certfile {certfile}", f"keyfile {keyfile}"]
        self.config = self.dir / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.log = self.dir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT`` (no credentials)."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or start again, on the same port: a broker restart)."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        """Stop the broker (it keeps nothing: retained messages are gone, as after a crash of
        a broker without persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        """Stop and clean up."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl."""
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=massagectl test CA",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca, cert, key
