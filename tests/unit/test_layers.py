"""The house's rule: no package imports one above it (README, "Layout").

Below `sarportal`: `domain` stands on nothing of ours; `provider` and `store` on `domain`; `auth`
on `store`; `stats` and `jobs` below `web`; nothing outside `web` imports it. Inside `web`: `core`
stands on no room and not on `ui`; `ui` on `core` only; the rooms (`transactions`, `stats`,
`people`, `saved_views`, `approvals`) never on `api`, which stands on them. The services that
pages and API share (`actions`, `saved_views`, `approvals`, `bulk`, `claim_assignments`) stand
below `web`. The sandbox stands for another party and imports nothing of the portal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sarportal

SOURCE = Path(sarportal.__file__).parent
ROOMS = (
    "web.transactions",
    "web.stats",
    "web.people",
    "web.saved_views",
    "web.approvals",
    "web.bulk",
)
SERVICES = (
    "actions",
    "saved_views",
    "approvals",
    "bulk",
    "claim_assignments",
)  # the rules that the pages and the API share
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "domain": ("provider", "store", "auth", "stats", "jobs", "web", *SERVICES, "sandbox"),
    "provider": ("store", "auth", "stats", "jobs", "web", *SERVICES, "sandbox"),
    "store": ("auth", "stats", "jobs", "web", *SERVICES, "sandbox"),
    "auth": ("stats", "jobs", "web", *SERVICES, "sandbox"),
    "stats": ("store", "auth", "jobs", "web", *SERVICES, "sandbox"),
    "jobs": ("web", *SERVICES, "sandbox"),
    "sandbox": ("domain", "provider", "store", "auth", "stats", "jobs", "web", *SERVICES),
    "web.core": ("web.ui", *ROOMS, "web.api"),
    "web.ui": (*ROOMS, "web.api"),
    **dict.fromkeys(ROOMS, ("web.api",)),
}
APP_FACTORY_USERS = {"web.core.serve"}  # the server builds the app it serves


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n.removeprefix("sarportal.") for n in names if n.startswith("sarportal.")}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda v: str(v))
def test_no_package_imports_one_above_it(module: str, path: Path) -> None:
    imported = _imports(path)
    rules = [banned for package, banned in FORBIDDEN.items() if _within(module, package)]
    broken = sorted(
        name for name in imported for banned in rules for b in banned if _within(name, b)
    )
    if module != "web" and _within(module, "web") and module not in APP_FACTORY_USERS:
        broken += sorted(name for name in imported if name == "web")  # the app factory
    assert broken == [], f"{module} imports {broken}"
