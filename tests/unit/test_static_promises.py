"""Static checks of the promises: no way to turn TLS verification off, no secret in the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "sarportal"

UNVERIFIED_TLS = [
    re.compile(r"verify\s*=\s*False"),
    re.compile(r"CERT_NONE"),
    re.compile(r"check_hostname\s*=\s*False"),
    re.compile(r"_create_unverified_context"),
    re.compile(r"ssl_version\s*=\s*ssl\.PROTOCOL_TLSv1\b"),
]
SECRETS = [
    re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    re.compile(r"\b[A-Za-z0-9_-]{43}=(?![A-Za-z0-9])"),  # a Fernet key
    re.compile(r"\bsarp_[A-Za-z0-9_-]{20,}"),  # a personal API token
    re.compile(r"AKIA[0-9A-Z]{16}"),
]
# The sandbox's built-in demo clients are documented test credentials (design §8).
ALLOWED = re.compile(r"(demo-viewer|demo-operator|other-operator)-secret")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, text=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def test_no_code_turns_tls_verification_off() -> None:
    found = []
    for path in SOURCE.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if any(pattern.search(line) for pattern in UNVERIFIED_TLS):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "TLS verification must never be disabled:\n" + "\n".join(found)


def test_no_secret_is_committed() -> None:
    found = []
    for path in _tracked_files():
        if not path.is_file() or path.suffix in {".png", ".svg", ".woff", ".woff2", ".ico"}:
            continue
        if path.name in {"package-lock.json"}:
            continue  # integrity hashes look like keys
        text = path.read_text(errors="ignore")
        for pattern in SECRETS:
            for match in pattern.finditer(text):
                if not ALLOWED.search(match.group(0)):
                    found.append(f"{path.relative_to(ROOT)}: {match.group(0)[:12]}…")
    assert not found, "secrets in the repository:\n" + "\n".join(found)


def test_the_checks_would_catch_a_planted_leak(tmp_path: Path) -> None:
    planted = "client = httpx.Client(verify=False)\nkey = '" + "a" * 43 + "='\n"
    assert any(p.search(planted) for p in UNVERIFIED_TLS)
    assert any(p.search(planted) for p in SECRETS)
