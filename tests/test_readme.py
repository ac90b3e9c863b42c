"""The README's first example runs as written (with the real default embedder)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_quick_start_example_runs(tmp_path: Path) -> None:
    block = re.findall(r"```python\n(.*?)```", README, flags=re.S)[0]
    out = subprocess.run(
        [sys.executable, "-c", block],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr
    assert "I'm vegetarian and allergic to peanuts" in out.stdout
    assert "<user_data" in out.stdout and "Avoids peanuts" in out.stdout
