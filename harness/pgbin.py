"""Find the PostgreSQL server binaries and check that pg_cron is installed.

Looked up, in order: ``$OPSDB_PG_BINDIR``, ``pg_config --bindir``, the Debian
layout ``/usr/lib/postgresql/<major>/bin`` (15 first, then the newest), ``$PATH``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MIN_MAJOR = 15
PREFERRED_MAJOR = 15
REQUIRED = ("initdb", "pg_ctl", "postgres")


class BinariesNotFound(RuntimeError):
    """No usable PostgreSQL installation; the message lists where we looked."""


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    major: int
    pkglibdir: Path

    def path(self, name: str) -> str:
        return str(self.bindir / name)

    @property
    def has_pg_cron(self) -> bool:
        return (self.pkglibdir / "pg_cron.so").exists()


def _major_of(bindir: Path) -> int | None:
    postgres = bindir / "postgres"
    if not postgres.exists():
        return None
    try:
        out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def _pkglibdir(bindir: Path) -> Path:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    # Debian keeps server modules next to bin/: /usr/lib/postgresql/<major>/lib
    return bindir.parent / "lib"


def _candidates() -> list[Path]:
    found: list[Path] = []
    if env := os.environ.get("OPSDB_PG_BINDIR"):
        found.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            found.append(Path(out.stdout.strip()))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: (p.parent.name != str(PREFERRED_MAJOR), -int(p.parent.name) if p.parent.name.isdigit() else 0),
    )
    found.extend(debian)
    if postgres := shutil.which("postgres"):
        found.append(Path(postgres).resolve().parent)
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find_binaries() -> PgBinaries:
    """Return the first PostgreSQL >= 15 installation that has every binary we need."""
    looked: list[str] = []
    for bindir in _candidates():
        major = _major_of(bindir)
        missing = [name for name in REQUIRED if not (bindir / name).exists()]
        if major is None or missing:
            looked.append(f"{bindir} (missing {', '.join(missing) or 'postgres'})")
            continue
        if major < MIN_MAJOR:
            looked.append(f"{bindir} (PostgreSQL {major} is older than {MIN_MAJOR})")
            continue
        return PgBinaries(bindir=bindir, major=major, pkglibdir=_pkglibdir(bindir))
    raise BinariesNotFound(
        "no PostgreSQL >= 15 server binaries found; looked in: "
        + ("; ".join(looked) or "$OPSDB_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin, $PATH")
        + ". Install them with `apt-get install postgresql-15 postgresql-15-cron` "
        "(or set OPSDB_PG_BINDIR to the directory holding initdb, pg_ctl and postgres)."
    )


def require_pg_cron(binaries: PgBinaries) -> None:
    if not binaries.has_pg_cron:
        raise BinariesNotFound(
            f"pg_cron is not installed for PostgreSQL {binaries.major}: "
            f"{binaries.pkglibdir / 'pg_cron.so'} does not exist. "
            f"Install it with `apt-get install postgresql-{binaries.major}-cron`."
        )
