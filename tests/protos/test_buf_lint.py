"""`buf lint` under the committed buf.yaml finds nothing in protos/ (buf from the npm registry)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
_BUF_PACKAGE = "@bufbuild/buf@1.75.0"


@pytest.fixture(scope="module")
def buf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A buf binary: the one on PATH, else installed from the npm registry in a scratch dir."""
    found = shutil.which("buf")
    if found:
        return Path(found)
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("buf is not on PATH and npm is missing to install @bufbuild/buf")
    scratch = tmp_path_factory.mktemp("buf")
    done = subprocess.run(
        [npm, "install", "--silent", "--prefix", str(scratch), _BUF_PACKAGE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    binary = scratch / "node_modules" / ".bin" / "buf"
    if done.returncode != 0 or not binary.exists():
        pytest.skip(f"{_BUF_PACKAGE} could not be installed from the npm registry")
    return binary


def test_buf_lint_is_clean(buf: Path) -> None:
    done = subprocess.run(
        [str(buf), "lint"], cwd=_REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
