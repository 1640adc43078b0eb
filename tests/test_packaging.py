"""environment.yml (for conda users) pins exactly what pyproject.toml pins (for pip and CI)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("book", "test")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(lines) -> dict[str, str]:
    """{normalised name (with extras): version specifier without spaces}, e.g. {"torch": "==2.14.1"}."""
    parsed = {}
    for line in lines:
        match = REQUIREMENT.match(line)
        assert match, f"cannot parse requirement {line!r}"
        name, extras, spec = match.groups()
        key = _normalise(name) + (extras or "").replace(" ", "")
        assert key not in parsed, f"{key} is listed twice"
        parsed[key] = spec.replace(" ", "")
    return parsed


def pyproject_requirements(path: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    project = tomllib.loads(path.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    return parse_requirements(lines)


def conda_environment(path: Path = ROOT / "environment.yml") -> tuple[list[str], list[str]]:
    """(conda dependencies as strings, pip section) of environment.yml."""
    env = yaml.safe_load(path.read_text())
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pip_sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    return conda, [str(line) for line in pip_sections[0]]


def test_pyproject_pins_every_requirement_exactly():
    loose = {name: spec for name, spec in pyproject_requirements().items() if not spec.startswith("==")}
    assert not loose, f"pyproject.toml requirements not pinned with ==: {loose}"


def test_environment_yml_pins_match_pyproject():
    _, pip = conda_environment()
    env = parse_requirements(line for line in pip if not line.startswith("-"))
    project = pyproject_requirements()
    assert not project.keys() - env.keys(), f"missing from environment.yml: {sorted(project.keys() - env.keys())}"
    assert not env.keys() - project.keys(), f"not in pyproject.toml: {sorted(env.keys() - project.keys())}"
    differ = {name: (project[name], env[name]) for name in project if project[name] != env[name]}
    assert not differ, f"pins differ (pyproject.toml, environment.yml): {differ}"


def test_environment_yml_installs_the_package_with_pip_and_python_311():
    conda, pip = conda_environment()
    assert "-e ." in pip, "environment.yml's pip section should install the project itself with `-e .`"
    assert "pip" in conda
    pythons = [dep for dep in conda if re.match(r"^python\s*[=<>!]", dep)]
    assert pythons and all(re.fullmatch(r"python\s*==?\s*3\.11(\.\*)?", dep) for dep in pythons), pythons
