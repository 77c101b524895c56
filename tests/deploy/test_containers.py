"""Containerfile lint (hadolint-equivalent rules that matter here), without a container engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gridx.paths import ROOT
from tests.deploy._files import CONTAINERS, containerfile, secret_assignments

FILES = sorted(CONTAINERS.glob("*.Containerfile"))
# a tag that names a patch release (or a digest): `latest` or a bare major moves under us
PINNED = re.compile(r"^[\w.\-/]+(:\d+\.\d+\.\d+[\w.\-]*|@sha256:[0-9a-f]{64})$")


def test_one_containerfile_per_service_part() -> None:
    assert {p.name.split(".")[0] for p in FILES} == {"gateway", "mint", "edge", "chain", "relayer", "api"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_containerfile_rules(path: Path) -> None:
    ins = containerfile(path)
    ops = [i.op for i in ins]
    assert ops[0] == "FROM", "the first instruction is FROM"
    froms = [i for i in ins if i.op == "FROM"]
    for f in froms:
        assert PINNED.match(f.args.split()[0]), f"line {f.line}: unpinned base image {f.args}"
    users = [i for i in ins if i.op == "USER"]
    assert users and users[-1].args not in ("root", "0", "0:0"), "the final USER is not root"
    assert ops.index("USER") > max(n for n, op in enumerate(ops) if op == "RUN"), "nothing RUNs after USER"
    assert ops.count("HEALTHCHECK") == 1 and "NONE" not in next(i.args for i in ins if i.op == "HEALTHCHECK")
    assert ops[-1] == "CMD" and next(i for i in ins if i.op == "CMD").args.startswith("["), "exec-form CMD last"
    for i in ins:
        assert i.op in {"FROM", "ENV", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "CMD"}
        assert i.op != "ADD", f"line {i.line}: ADD fetches or unpacks; use COPY"
        assert not secret_assignments(i.args), f"line {i.line}: a secret in the image"
        if i.op == "RUN":
            assert "apt-get upgrade" not in i.args and "curl " not in i.args, f"line {i.line}: unpinned fetch"
            if "pip install" in i.args:
                assert "--no-cache-dir" in i.args
        if i.op == "COPY" and i.args.startswith("--from="):
            # from an earlier stage of this file, or from a pinned image
            origin = i.args.split()[0].removeprefix("--from=")
            stages = [f.args.split()[-1] for f in froms if " AS " in f.args.upper()]
            assert origin in stages or PINNED.match(origin), f"line {i.line}: COPY --from={origin}"
        elif i.op == "COPY":
            for src in i.args.split()[:-1]:
                assert (ROOT / src).exists(), f"line {i.line}: COPY source {src} missing"
                assert not src.startswith((".secrets", ".run", "deploy/.secrets")), "secrets are mounted, not built"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_extra_installed_exists(path: Path) -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    run = " ".join(i.args for i in containerfile(path) if i.op == "RUN")
    chosen = re.findall(r'"\.\[(\w+)\]"', run)
    assert chosen and all(e in extras for e in chosen)
    if path.name.startswith("edge"):
        assert chosen == ["edge"], "the edge image uses the light extra, as on a Pi"
