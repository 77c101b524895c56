"""What the deployment files say, parsed once for the checks in this package."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gridx.paths import ROOT

DEPLOY = ROOT / "deploy"
CONTAINERS = DEPLOY / "containers"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = ROOT / "edge" / "deploy" / "gridx-edge.service"


@dataclass(frozen=True)
class Instruction:
    line: int
    op: str
    args: str


def containerfile(path: Path) -> list[Instruction]:
    """Containerfile instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    buf, start = "", 0
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        op, _, args = buf.partition(" ")
        out.append(Instruction(start, op.upper(), args.strip()))
        buf = ""
    assert not buf, f"{path}: dangling line continuation"
    return out


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment must be a mapping (names are checked)"
    return {str(k): str(v) for k, v in env.items()}


def containerfile_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in containerfile(path):
        if ins.op == "ENV":
            for m in re.finditer(r"(\w+)=(\S+)", ins.args):
                env[m.group(1)] = m.group(2)
    return env


def unit_sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as section → [(key, value)] (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections.setdefault(current, [])
            continue
        assert current is not None and "=" in line, f"{path}: stray line {line!r}"
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY", re.IGNORECASE)


def secret_assignments(args: str) -> list[str]:
    """Assignments whose name says secret, except where it only names a place (…_DIR, …_FILE)."""
    names = re.findall(r"(\w+)=", args)
    return [n for n in names if SECRETISH.search(n) and not n.endswith(("_DIR", "_FILE"))]
