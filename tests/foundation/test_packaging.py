"""opsdb installed from a wheel (not editable) works in another repository.

The wheel is built from a copy of the project, offline (no build isolation, no
index), and installed without dependencies into a fresh venv whose only other
packages are this venv's (a path file points at a folder of links to them,
leaving out the editable opsdb). A throw-away repository then runs pytest with
the plugin: the SQL must come from inside the installed package, and only the
prefixed fixtures exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from harness import project

SHIPPED = ("pyproject.toml", "setup.py", "README.md", "harness", "db")

OTHER_REPO_TEST = '''
import pytest


def test_a_factory_makes_a_workspace_whose_owner_is_a_member(opsdb_factories, opsdb_db):
    workspace = opsdb_factories.workspace()
    member = opsdb_factories.member(workspace)
    rows = opsdb_db.execute(
        "select user_id, role from public.workspace_users where workspace_id = %s order by role",
        (workspace.id,),
    ).fetchall()
    assert rows == [(member.id, "member"), (workspace.owner.id, "owner")]


def test_rpc_calls_as_postgrest_would(opsdb_factories, opsdb_rpc):
    workspace = opsdb_factories.workspace()
    result = opsdb_rpc("evaluate_usage_thresholds", {"workspace_id": str(workspace.id)}, as_=workspace.owner.jwt)
    assert result["workspace_id"] == str(workspace.id)


@pytest.mark.parametrize("short", ["connect", "rpc", "factories", "db_url", "empty_database_url"])
def test_the_plugin_registers_no_short_fixture_name(request, short):
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue(short)


def test_this_repository_keeps_its_own_db_fixture(db):
    assert db == "the other repository's db"


def test_the_plugin_is_the_installed_copy_with_its_sql():
    from harness import project

    assert "site-packages" in project.__file__
    assert project.db_dir() == project.PACKAGED_DB
    assert (project.db_dir() / "migrations").is_dir()
'''

OTHER_REPO_CONFTEST = '''
import pytest


@pytest.fixture
def db():
    return "the other repository's db"
'''


def _documented_example() -> str:
    text = (project.root() / "docs" / "pytest-plugin.md").read_text()
    return text.split("## Example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def _site_packages(venv: Path) -> Path:
    return Path(
        sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    )


def _copy_project(target: Path) -> None:
    target.mkdir()
    for name in SHIPPED:
        source = project.root() / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_db"))
        else:
            shutil.copy2(source, target / name)


def _dependencies_only(target: Path) -> Path:
    """Links to this venv's packages, without the editable opsdb (its .pth, finder and dist-info)."""
    ours = Path(sysconfig.get_path("purelib"))
    target.mkdir()
    for entry in ours.iterdir():
        name = entry.name
        if name.startswith(("opsdb-", "__editable__", "harness")) or name.endswith(".pth"):
            continue
        (target / name).symlink_to(entry)
    return target


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_plugin_installed_from_a_wheel_runs_another_repositorys_tests(tmp_path: Path) -> None:
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    offline.pop("PIP_FIND_LINKS", None)
    source = tmp_path / "source"
    _copy_project(source)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "--wheel-dir", str(tmp_path / "dist"), str(source)], env=offline)
    wheel = next((tmp_path / "dist").glob("opsdb-*.whl"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = str(venv / "bin" / "python")
    deps = _dependencies_only(tmp_path / "deps")
    (_site_packages(venv) / "opsdb_test_dependencies.pth").write_text(f"{deps}\n")
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], env=offline)

    repo = tmp_path / "other-repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_with_opsdb.py").write_text(OTHER_REPO_TEST)
    (repo / "tests" / "conftest.py").write_text(OTHER_REPO_CONFTEST)
    # The example of docs/pytest-plugin.md, as a user would paste it.
    (repo / "tests" / "test_documented_example.py").write_text(_documented_example())
    env = {k: v for k, v in offline.items() if k not in ("DATABASE_URL", "OPSDB_ROOT", "PYTHONPATH")}
    result = subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "tests"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "11 passed" in result.stdout
    assert f"SQL from {_site_packages(venv) / 'harness' / '_db'}" in result.stdout


def test_every_dependency_has_the_lower_bound_the_code_needs() -> None:
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((project.root() / "pyproject.toml").read_text())
    requirements = [Requirement(r) for r in pyproject["project"]["dependencies"]]

    for requirement in requirements:
        bounds = [spec for spec in requirement.specifier if spec.operator == ">="]
        assert bounds, f"{requirement.name} has no lower bound"
        assert requirement.specifier.contains(metadata.version(requirement.name)), requirement
    bound = {r.name: next(s.version for s in r.specifier if s.operator == ">=") for r in requirements}
    # pytest_postgresql.executors (NoopExecutor) and the janitor's maintenance_dbname first shipped in 9.0.
    assert int(bound["pytest-postgresql"].split(".")[0]) >= 9
