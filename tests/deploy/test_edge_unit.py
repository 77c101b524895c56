"""The Pi's systemd unit (hardening, restart policy) and its install script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gridx.paths import ROOT
from tests.deploy._files import UNIT, unit_sections

INSTALL = ROOT / "deploy" / "edge" / "install.sh"


def test_unit_is_hardened_with_its_own_user_and_restart_policy() -> None:
    service = dict(unit_sections(UNIT)["Service"])
    assert service["User"] == "gridx" and service["Group"] == "gridx"
    assert service["Restart"] == "always" and int(service["RestartSec"]) > 0
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == "/var/lib/gridx"
    assert "/etc/gridx" in service["ReadOnlyPaths"].split()
    for flag in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID"):
        assert service[flag] == "true", flag
    assert service["CapabilityBoundingSet"] == "" and service["UMask"] == "0077"
    assert service["ExecStart"].startswith("/opt/gridtokenx/.venv/bin/gridx edge run ")
    assert unit_sections(UNIT)["Unit"][0] == ("Description", "GridTokenX edge agent")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify also checks that ExecStart exists: point it at this interpreter, nothing else changes
    unit = tmp_path / "gridx-edge.service"
    unit.write_text(UNIT.read_text().replace("/opt/gridtokenx/.venv/bin/gridx", sys.executable))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=15)
    assert out.returncode == 0, out.stderr
    assert "gridx-edge.service" not in out.stderr, out.stderr


def test_install_script_uses_the_light_extra_and_installs_this_unit() -> None:
    text = INSTALL.read_text()
    assert INSTALL.stat().st_mode & 0o111, "executable"
    assert '"$src[edge]"' in text and "[all]" not in text and "[gateway]" not in text
    assert "edge/deploy/gridx-edge.service" in text and "useradd --system" in text
    assert subprocess.run(["bash", "-n", str(INSTALL)], timeout=10).returncode == 0
    help_out = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=10)
    assert help_out.returncode == 0 and "Raspberry Pi" in help_out.stdout
