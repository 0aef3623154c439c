"""Copy the front-end libraries the portal serves from node_modules into static/vendor, bundle
the parts of ECharts the dashboard uses, and precompress every text asset.

Run by `make install` after `npm ci`. The portal serves these files itself (no CDN), so the
Content-Security-Policy can stay at `'self'`. The vendor folder is rebuilt from scratch each time,
so a file dropped from this list does not linger.

- ECharts: `assets/echarts.mjs` names the charts and components the dashboard draws with;
  esbuild (pinned in package-lock.json) bundles only those (602 KB instead of the full 1.12 MB).
- Compression: each text file of the static folder (vendor and the portal's own) gets a `.br` and
  a `.gz` beside it, written once here at the highest levels instead of on every request; the
  portal sends one when the browser accepts it (`web.ui.assets`, `Content-Encoding`).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
STATIC = ROOT / "src" / "sarportal" / "web" / "static"
VENDOR = STATIC / "vendor"
ECHARTS_ENTRY = ROOT / "assets" / "echarts.mjs"
ECHARTS_BUNDLE = "echarts/echarts.portal.min.js"
COMPRESSED = (".js", ".css", ".svg", ".map", ".json", ".txt")
MIN_SIZE = 1024  # smaller files gain nothing worth a second request path

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
    bundle_echarts(node_modules, staging / ECHARTS_BUNDLE)
    shutil.rmtree(vendor, ignore_errors=True)
    staging.rename(vendor)
    return sorted(path for path in vendor.rglob("*") if path.is_file())


def bundle_echarts(node_modules: Path, destination: Path, entry: Path = ECHARTS_ENTRY) -> None:
    """Bundle the parts of ECharts that `entry` imports into one minified browser script."""
    esbuild = node_modules / "esbuild" / "bin" / "esbuild"
    if not esbuild.is_file():
        raise FileNotFoundError("not in node_modules (run `npm ci`): esbuild/bin/esbuild")
    destination.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(esbuild), str(entry), "--bundle", "--minify", "--format=iife",
            "--target=es2020", "--legal-comments=eof", "--log-level=warning",
            "--define:process.env.NODE_ENV=\"production\"", f"--outfile={destination}",
        ],
        check=True,
        cwd=node_modules.parent,
    )  # fmt: skip


def compress(static: Path = STATIC) -> list[Path]:
    """Write `name.br` and `name.gz` beside each text file of `static` that compression makes
    smaller; return the files written. Stale ones of removed files go first."""
    for stale in [*static.rglob("*.br"), *static.rglob("*.gz")]:
        stale.unlink()
    written = []
    for path in sorted(static.rglob("*")):
        if not path.is_file() or path.suffix not in COMPRESSED or path.stat().st_size < MIN_SIZE:
            continue
        data = path.read_bytes()
        variants = {
            ".br": brotli.compress(data, quality=11),
            ".gz": gzip.compress(data, compresslevel=9, mtime=0),
        }
        for suffix, packed in variants.items():
            if len(packed) < 0.95 * len(data):
                target = path.with_name(path.name + suffix)
                target.write_bytes(packed)
                written.append(target)
    return written


def main() -> int:
    try:
        written = build()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"build_assets: {exc}", file=sys.stderr)
        return 1
    packed = compress()
    print(
        f"build_assets: {len(written)} files in {VENDOR.relative_to(ROOT)}, "
        f"{len(packed)} precompressed (.br, .gz) in {STATIC.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
