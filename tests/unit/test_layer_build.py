"""The layer is built for python3.13 on the template's architecture from any Python 3.11-3.13.

layers/shared/Makefile installs requirements-lambda.txt with pip's cross-platform options and --no-deps:
pip evaluates environment markers for the interpreter running it, so the closure for python3.13 is a
pinned list. These tests keep that list complete (every dependency, markers evaluated for python3.13 on
Linux), minimal, equal to requirements.txt's pins and constraints.txt's (the versions the tests run),
and keep the Makefile's target platform the template's. Deploy needs no test dependency.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tools.cfn import load_template

LAYER = ROOT / "layers" / "shared"
#: The Lambda runtime's environment for marker evaluation (python3.13, Amazon Linux, the template's arch).
LAMBDA_MARKERS = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "os_name": "posix",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
}
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
TEST_STACK = ("moto", "checkov", "matplotlib", "kubernetes-validate", "pytest", "cfn-lint", "mypy", "ruff")


def _pins(path: Path) -> dict[str, tuple[str, Requirement]]:
    """name -> (pinned version, requirement) for every ``name==version`` line (following ``-r``)."""
    pins: dict[str, tuple[str, Requirement]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            pins |= _pins(path.parent / line[3:].strip())
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        pins[canonicalize_name(requirement.name)] = (spec.version, requirement)
    return pins


def _makefile_variable(name: str) -> str:
    match = re.search(rf"(?m)^{name} := (\S+)$", (LAYER / "Makefile").read_text(encoding="utf-8"))
    assert match, name
    return match.group(1)


def _closure(roots: dict[str, tuple[str, Requirement]]) -> set[str]:
    """Every distribution the roots need on python3.13/Linux, read from the installed metadata."""
    seen: set[str] = set()
    todo = [(name, set(requirement.extras)) for name, (_, requirement) in roots.items()]
    while todo:
        name, extras = todo.pop()
        if name in seen and not extras:
            continue
        seen.add(name)
        for text in importlib.metadata.requires(name) or []:
            dependency = Requirement(text)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}) for extra in extras | {""}
            )
            if wanted:
                todo.append((canonicalize_name(dependency.name), set(dependency.extras)))
    return seen


def test_the_lambda_list_is_the_closure_of_the_runtime_requirements() -> None:
    lock = _pins(LAYER / "requirements-lambda.txt")
    direct = _pins(LAYER / "requirements.txt")
    for name, (version, _) in direct.items():
        assert lock[name][0] == version, (
            f"{name}: requirements.txt pins {version}, requirements-lambda.txt {lock[name][0]}"
        )
    closure = _closure(direct)
    assert closure == set(lock), (
        f"requirements-lambda.txt: add {sorted(closure - set(lock))}, drop {sorted(set(lock) - closure)}"
    )


def test_the_lambda_list_pins_what_the_tests_run() -> None:
    constraints = {
        canonicalize_name(Requirement(line.split(";", 1)[0]).name): line.split(";", 1)[0].split("==", 1)[1].strip()
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    for name, (version, _) in _pins(LAYER / "requirements-lambda.txt").items():
        assert constraints.get(name) == version, f"{name}=={version}: constraints.txt has {constraints.get(name)}"


def test_the_layer_is_built_for_the_template_runtime_and_architecture() -> None:
    template = load_template()
    function = template["Globals"]["Function"]
    (architecture,) = function["Architectures"]
    layer = template["Resources"]["DomainLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": architecture}
    assert layer["Properties"]["CompatibleRuntimes"] == [function["Runtime"]]
    assert _makefile_variable("LAMBDA_PLATFORM") == PLATFORMS[architecture]
    assert f"python{_makefile_variable('LAMBDA_PYTHON_VERSION')}" == function["Runtime"]
    recipe = (LAYER / "Makefile").read_text(encoding="utf-8")
    for option in ("--only-binary=:all:", "--no-deps", "--implementation cp", "-r requirements-lambda.txt"):
        assert option in recipe


def test_the_functions_build_without_an_interpreter() -> None:
    """Each handler is a copy of app.py (its dependencies are in the layer)."""
    template = load_template()
    for logical_id in ("ProbeFunction", "PromoteFunction"):
        resource = template["Resources"][logical_id]
        assert resource["Metadata"]["BuildMethod"] == "makefile"
        code = ROOT / resource["Properties"]["CodeUri"]
        assert sorted(p.name for p in code.iterdir() if p.name != "__pycache__") == ["Makefile", "app.py"]
        assert f"build-{logical_id}:\n\tcp app.py " in (code / "Makefile").read_text(encoding="utf-8")


def test_the_deploy_set_holds_no_test_dependency() -> None:
    deploy = _pins(ROOT / "requirements-deploy.txt")
    assert not {canonicalize_name(name) for name in TEST_STACK} & set(deploy)
    assert "aws-sam-cli" in deploy
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert "-r requirements-deploy.txt" in dev.splitlines()
