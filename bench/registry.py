"""Discover scenarios: every module in ``bench/scenarios/``, in name order.

A module is any ``bench/scenarios/<name>.py`` whose name does not start with
``_``; it must expose ``SCENARIOS: list[Scenario]``, and may expose
``BURSTS: list[Burst]`` (see :mod:`bench.burst`).
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from bench import scenarios as scenarios_package
from bench.scenario import Scenario

if TYPE_CHECKING:
    from bench.burst import Burst


class RegistryError(ValueError):
    """A scenario module is malformed; the message names every problem found."""


@dataclass(frozen=True)
class Registered:
    module: str
    scenario: Scenario


def _modules() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(scenarios_package.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{scenarios_package.__name__}.{name}") for name in names]


def discover() -> list[Registered]:
    """Every registered scenario, checked (see :func:`check`), in module then list order."""
    found: list[Registered] = []
    problems: list[str] = []
    for module in _modules():
        short = module.__name__.rsplit(".", 1)[-1]
        items = getattr(module, "SCENARIOS", None)
        if not isinstance(items, list) or not all(isinstance(s, Scenario) for s in items):
            problems.append(f"bench/scenarios/{short}.py: SCENARIOS must be a list of bench.scenario.Scenario")
            continue
        found.extend(Registered(short, s) for s in items)
    problems.extend(check(found))
    if problems:
        raise RegistryError("bad bench scenarios:\n  " + "\n  ".join(problems))
    return found


def check(registered: list[Registered]) -> list[str]:
    """Names unique, each scenario sound, each baseline a registered baseline."""
    problems: list[str] = []
    by_name: dict[str, Registered] = {}
    for item in registered:
        where = f"bench/scenarios/{item.module}.py: {item.scenario.name}"
        if item.scenario.name in by_name:
            problems.append(f"{where}: name already used in bench/scenarios/{by_name[item.scenario.name].module}.py")
        by_name.setdefault(item.scenario.name, item)
        problems.extend(f"{where}: {p}" for p in item.scenario.problems())
    for item in registered:
        baseline = item.scenario.baseline
        if baseline is None:
            continue
        target = by_name.get(baseline)
        if target is None:
            problems.append(f"bench/scenarios/{item.module}.py: {item.scenario.name}: unknown baseline {baseline!r}")
        elif not target.scenario.is_baseline:
            problems.append(
                f"bench/scenarios/{item.module}.py: {item.scenario.name}: {baseline!r} is not a baseline "
                "(baselines have baseline=None)"
            )
    return problems


@dataclass(frozen=True)
class PlannedRun:
    """One pgbench run: a scenario at one client count."""

    module: str
    scenario: Scenario
    clients: int
    # The baseline it is measured against (paired, same client count); None for baselines.
    baseline_scenario: Scenario | None = None


def plan(registered: list[Registered], only: list[str] | None = None) -> list[PlannedRun]:
    """The runs to make: baselines first, then the others in discovery order.

    ``only`` holds names or shell patterns (``usage_*``). Baselines are measured
    alone at their client counts; every other scenario is measured paired with
    its baseline (see :func:`bench.runner.measure_paired`), so its ratio never
    depends on a baseline run made minutes earlier, and ``--only`` needs no
    baseline run of its own.
    """
    selected = [r for r in registered if not only or any(fnmatch.fnmatchcase(r.scenario.name, p) for p in only)]
    if only and not selected:
        known = ", ".join(r.scenario.name for r in registered)
        raise RegistryError(f"--only {' '.join(only)} matches no scenario; known: {known}")
    by_name = {r.scenario.name: r.scenario for r in registered}
    ordered = [r for r in selected if r.scenario.is_baseline] + [r for r in selected if not r.scenario.is_baseline]
    return [
        PlannedRun(item.module, item.scenario, count, by_name.get(item.scenario.baseline or ""))
        for item in ordered
        for count in item.scenario.clients
    ]


def discover_bursts(registered: list[Registered]) -> list[tuple[str, Burst]]:
    """Every ``BURSTS`` entry of the scenario modules, checked: sound, unique, its baseline registered."""
    from bench.burst import Burst  # here: bench.burst imports the runner, which imports this module

    baselines = {r.scenario.name for r in registered if r.scenario.is_baseline}
    found: list[tuple[str, Burst]] = []
    problems: list[str] = []
    for module in _modules():
        short = module.__name__.rsplit(".", 1)[-1]
        items = getattr(module, "BURSTS", [])
        if not isinstance(items, list) or not all(isinstance(b, Burst) for b in items):
            problems.append(f"bench/scenarios/{short}.py: BURSTS must be a list of bench.burst.Burst")
            continue
        for burst in items:
            where = f"bench/scenarios/{short}.py: {burst.name}"
            problems.extend(f"{where}: {p}" for p in burst.problems())
            if burst.baseline not in baselines:
                problems.append(f"{where}: unknown baseline {burst.baseline!r}")
            if any(burst.name == b.name for _, b in found):
                problems.append(f"{where}: name already used")
            found.append((short, burst))
    if problems:
        raise RegistryError("bad bench bursts:\n  " + "\n  ".join(problems))
    return found


def select_bursts(bursts: list[tuple[str, Burst]], only: list[str] | None) -> list[Burst]:
    """The bursts ``only`` names (names or shell patterns); all when ``only`` is empty."""
    return [b for _, b in bursts if not only or any(fnmatch.fnmatchcase(b.name, p) for p in only)]
