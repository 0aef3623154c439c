"""Copy the front-end libraries the portal serves from node_modules into static/vendor.

Run by `make install` after `npm ci`. The portal serves these files itself (no CDN), so the
Content-Security-Policy can stay at `'self'`. The vendor folder is rebuilt from scratch each time,
so a file dropped from this list does not linger.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "sarportal" / "web" / "static" / "vendor"

# (package, file or folder inside the package, destination inside vendor/)
FILES: tuple[tuple[str, str, str], ...] = (
    ("bootstrap", "dist/css/bootstrap.min.css", "bootstrap/css/bootstrap.min.css"),
    ("bootstrap", "dist/css/bootstrap.min.css.map", "bootstrap/css/bootstrap.min.css.map"),
    ("bootstrap", "dist/js/bootstrap.bundle.min.js", "bootstrap/js/bootstrap.bundle.min.js"),
    (
        "bootstrap",
        "dist/js/bootstrap.bundle.min.js.map",
        "bootstrap/js/bootstrap.bundle.min.js.map",
    ),
    ("bootstrap", "LICENSE", "bootstrap/LICENSE"),
    (
        "bootstrap-icons",
        "font/bootstrap-icons.min.css",
        "bootstrap-icons/font/bootstrap-icons.min.css",
    ),
    ("bootstrap-icons", "font/fonts", "bootstrap-icons/font/fonts"),
    ("bootstrap-icons", "LICENSE", "bootstrap-icons/LICENSE"),
    ("htmx.org", "dist/htmx.min.js", "htmx/htmx.min.js"),
    ("htmx.org", "LICENSE", "htmx/LICENSE"),
    ("echarts", "dist/echarts.min.js", "echarts/echarts.min.js"),
    ("echarts", "i18n/langDE.js", "echarts/i18n/langDE.js"),
    ("echarts", "LICENSE", "echarts/LICENSE"),
    ("echarts", "NOTICE", "echarts/NOTICE"),
)


def build(node_modules: Path = NODE_MODULES, vendor: Path = VENDOR) -> list[Path]:
    """Rebuild `vendor` from `node_modules`; return the files written."""
    missing = [f"{pkg}/{src}" for pkg, src, _ in FILES if not (node_modules / pkg / src).exists()]
    if missing:
        raise FileNotFoundError("not in node_modules (run `npm ci`): " + ", ".join(missing))
    staging = vendor.with_name(vendor.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for package, source, target in FILES:
        origin, destination = node_modules / package / source, staging / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, destination)
        else:
            shutil.copyfile(origin, destination)
    shutil.rmtree(vendor, ignore_errors=True)
    staging.rename(vendor)
    return sorted(path for path in vendor.rglob("*") if path.is_file())


def main() -> int:
    try:
        written = build()
    except FileNotFoundError as exc:
        print(f"build_assets: {exc}", file=sys.stderr)
        return 1
    print(f"build_assets: {len(written)} files in {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
