"""The three descriptions of the environment agree: pyproject (ranges for users), environment.yml
(conda, mirrors it) and requirements/ci.txt (exact pins CI installs, torch's CPU build)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _pyproject_deps() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower(): d[len(re.split(r"[<>=!~ ]", d, maxsplit=1)[0]):] for d in deps}


def _conda_deps() -> dict[str, str]:
    out = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.-]+)([<>=!~].*)?$", line)
        if m and m.group(1) not in ("python", "pip"):
            out[m.group(1).lower()] = m.group(2) or ""
    return out


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "ci.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_environment_yml_mirrors_pyproject():
    py = _pyproject_deps()
    conda = _conda_deps()
    expected = {CONDA_NAMES.get(k, k): v for k, v in py.items()}
    assert conda == expected


def test_ci_pins_every_dependency_exactly():
    pins = _pins()
    missing = [d for d in _pyproject_deps() if d.replace("_", "-") not in pins]
    assert not missing, f"not pinned in requirements/ci.txt: {missing}"


def test_ci_takes_torchs_cpu_build_from_disk():
    assert _pins()["torch"] == "2.13.0"


def test_pins_satisfy_the_ranges():
    from packaging.specifiers import SpecifierSet

    pins = _pins()
    for name, spec in _pyproject_deps().items():
        version = pins[name.replace("_", "-")]
        assert version in SpecifierSet(spec), f"{name}=={version} is outside {spec}"
