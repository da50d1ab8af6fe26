"""Build hook: ship db/ inside the wheel as harness/_db.

pyproject.toml holds the metadata; this only adds the SQL to a built package, so
an installed opsdb (the CLI, the pytest plugin) has every migration, function,
policy and cron file without a checkout (harness/project.py finds it there). An
editable install reads db/ from the checkout instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SQL_SUFFIXES = (".sql", ".sql.j2", "api.toml")


class BuildPyWithSql(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = Path(__file__).resolve().parent / "db"
        target = Path(self.build_lib) / "harness" / "_db"
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_file() and path.name.endswith(SQL_SUFFIXES) and relative.parts[0] != "schema.sql":
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target / relative)


setup(cmdclass={"build_py": BuildPyWithSql})
