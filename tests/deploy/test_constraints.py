"""constraints.txt, the exact releases every install uses (scripts/dev.py, CI, the image): it
pins every dependency pyproject.toml names, this test run has those releases installed, and
`scripts/dev.py lock` writes one pin per package, with markers only where Pythons disagree."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
import tomllib
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from tests.db_server import REPO


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dev_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", REPO / "scripts" / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins() -> list[Requirement]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def test_every_dependency_of_pyproject_is_pinned_exactly() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned: dict[str, set[str]] = {}
    for pin in _pins():
        (specifier,) = pin.specifier  # exactly one, and it is ==
        assert specifier.operator == "==", pin
        pinned.setdefault(_normalised(pin.name), set()).add(str(pin.marker or ""))
    missing = {_normalised(Requirement(d).name) for d in named} - set(pinned)
    assert not missing, f"not in constraints.txt (run `python3 scripts/dev.py lock`): {missing}"


def test_this_run_has_the_pinned_releases_installed() -> None:
    differing = []
    for pin in _pins():
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            continue  # needed on another Python only
        if not pin.specifier.contains(installed, prereleases=True):
            differing.append(f"{pin.name} {installed}, pinned {pin.specifier}")
    assert not differing, (
        f"Python {sys.version_info[0]}.{sys.version_info[1]} runs other releases than"
        f" constraints.txt (install with scripts/dev.py): {differing}"
    )


@pytest.mark.parametrize(
    ("resolved", "expected"),
    [
        (
            {"3.11": {"a": ("A", "1.0")}, "3.13": {"a": ("A", "1.0")}},
            ["A==1.0"],
        ),
        (
            {"3.11": {"d": ("Deprecated", "1.3")}, "3.13": {"d": ("Deprecated", "3.0")}},
            [
                'Deprecated==1.3; python_version == "3.11"',
                'Deprecated==3.0; python_version == "3.13"',
            ],
        ),
        (  # installed on one Python only: a pin elsewhere constrains nothing
            {"3.11": {"t": ("tomli", "2.0"), "a": ("a", "1")}, "3.13": {"a": ("a", "1")}},
            ["a==1", "tomli==2.0"],
        ),
    ],
)
def test_lock_lines_pin_each_package_once_and_mark_only_disagreements(
    resolved: dict[str, dict[str, tuple[str, str]]], expected: list[str]
) -> None:
    assert _dev_script().lock_lines(resolved) == expected


def test_marked_pins_give_each_python_its_own_release() -> None:
    resolved = {"3.11": {"d": ("Deprecated", "1.3")}, "3.13": {"d": ("Deprecated", "3.0")}}
    pins = [Requirement(line) for line in _dev_script().lock_lines(resolved)]
    for python, release in (("3.11", "1.3"), ("3.13", "3.0"), ("3.12", None)):
        applying = [p for p in pins if p.marker and p.marker.evaluate({"python_version": python})]
        assert [str(p.specifier) for p in applying] == ([f"=={release}"] if release else [])
