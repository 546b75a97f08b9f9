"""End to end: a broker that wants a login, and one that speaks TLS only.

The password may be in the URL or in ``MASSAGECTL_MQTT_PASSWORD``; it never shows in anything
massagectl prints. A wrong login, or a certificate nobody trusts, ends the command with one line
saying so; it is not retried forever.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .broker import Mosquitto
from .conftest import PASSWORD, USER
from .support import BridgeProcess, cli, finish, one_error_line, spawn_cli


def _url(port: int, *, password: str | None = PASSWORD, scheme: str = "mqtt") -> str:
    login = f"{USER}:{password}@" if password is not None else f"{USER}@"
    return f"{scheme}://{login}127.0.0.1:{port}"


def test_user_and_password_in_the_url_or_the_environment(auth_broker: Mosquitto) -> None:
    port = auth_broker.port
    env = {"MASSAGECTL_MQTT_PASSWORD": PASSWORD}
    with BridgeProcess(
        _url(port, password=None), ["chair=sim:omp-percussion-pro"], gateway="gw1", env=env
    ) as bridge:
        assert f"gateway gw1 online at mqtt://{USER}@127.0.0.1:{port}" in bridge.stdout
        inline = spawn_cli("status", "--device", f"{_url(port)}/gw1/chair", "--json")
        from_env = spawn_cli(
            "set", "--device", f"{_url(port, password=None)}/gw1/chair", "--speed", "3", env=env
        )
        fleet = spawn_cli("fleet", "--broker", _url(port), "--json")
        outputs = []
        for proc in (inline, from_env, fleet):
            code, out, err = finish(proc, timeout=15)
            assert code == 0, err
            outputs += [out, err]
        status = json.loads(outputs[0])
        assert status["device"] == f"mqtt://{USER}@127.0.0.1:{port}/gw1/chair"
        assert "speed 3/13" in outputs[2]
        [gateway] = json.loads(outputs[4])
        assert gateway["online"] is True
        assert [d["state"]["speed_level"] for d in gateway["devices"]] == [3]
        stopped = cli("stop", "--device", f"{_url(port)}/gw1/chair")
        assert stopped.returncode == 0, stopped.stderr
        outputs += [stopped.stdout, stopped.stderr]
    outputs += bridge.lines
    assert not [text for text in outputs if PASSWORD in text]


def test_a_wrong_login_is_one_line_and_no_retrying(auth_broker: Mosquitto) -> None:
    port = auth_broker.port
    started = time.monotonic()
    bridge = BridgeProcess(
        _url(port, password="wrong-pass"),
        ["chair=sim:omp-percussion-pro"],
        gateway="gw1",
        wait=False,
    )
    try:
        anonymous = spawn_cli("fleet", "--broker", f"mqtt://127.0.0.1:{port}")
        no_password = spawn_cli("status", "--device", f"{_url(port, password=None)}/gw1/chair")
        # A mistyped address (no device level) is quoted, but without its password.
        mistyped = spawn_cli("status", "--device", f"{_url(port)}/gw1")
        code = bridge.wait(10)
    finally:
        bridge.close()
    mistyped_code, _, err = finish(mistyped, timeout=10)
    assert mistyped_code == 2
    line = one_error_line(err)
    assert f"'mqtt://{USER}@127.0.0.1:{port}/gw1'" in line
    assert PASSWORD not in line
    assert code == 3
    assert time.monotonic() - started < 5
    assert bridge.stdout == []
    line = one_error_line("\n".join(bridge.stderr))
    assert "refused the login" in line
    assert "wrong-pass" not in line

    for proc in (anonymous, no_password):
        code, out, err = finish(proc, timeout=10)
        assert code == 3, err
        assert "refused the login" in one_error_line(err)
        assert out == ""


def test_tls_with_the_ca(tls_broker: Mosquitto, tls_files: tuple[Path, Path, Path]) -> None:
    ca = str(tls_files[0])
    port = tls_broker.port
    # A CA file alone turns TLS on (mqtt:// with --tls-ca); mqtts:// says it too.
    with BridgeProcess(
        f"mqtt://127.0.0.1:{port}",
        ["chair=sim:omp-percussion-pro"],
        gateway="gw1",
        extra=["--tls-ca", ca],
    ) as bridge:
        assert f"gateway gw1 online at mqtts://127.0.0.1:{port}" in bridge.stdout
        trusted = spawn_cli("fleet", "--broker", f"mqtts://127.0.0.1:{port}", "--tls-ca", ca)
        untrusted = spawn_cli("fleet", "--broker", f"mqtts://127.0.0.1:{port}")
        device = f"mqtts://127.0.0.1:{port}/gw1/chair"
        status = spawn_cli("status", "--device", device, "--json", env={"MASSAGECTL_MQTT_CA": ca})
        status_untrusted = spawn_cli("status", "--device", device)
        plain = spawn_cli("fleet", "--broker", f"mqtt://127.0.0.1:{port}")

        code, out, err = finish(trusted, timeout=15)
        assert code == 0, err
        assert f"massagectl fleet on mqtts://127.0.0.1:{port}" in out
        row = next(line for line in out.splitlines() if " chair " in line)
        assert " gw1 " in row
        assert " online " in row

        code, out, err = finish(status, timeout=15)
        assert code == 0, err
        assert json.loads(out)["speed_levels"] == 13

        for proc in (untrusted, status_untrusted):
            code, out, err = finish(proc, timeout=15)
            assert code == 3, err
            line = one_error_line(err)
            assert "TLS failed" in line
            assert "certificate verify failed" in line

        # Plain MQTT to the TLS port: the broker drops it; one line, with the way out.
        code, out, err = finish(plain, timeout=15)
        assert code == 3, err
        assert "mqtts://" in one_error_line(err)
