"""Batch judging resumes after an interruption: nothing judged twice, nothing missing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tailored.errors import InvalidInput, NotFound
from tailored.judge import Judge, JudgedPair, judge_file, read_pairs
from tailored.testing import ScriptedChatModel

# A child process judging slowly (a scripted model that takes 50 ms a reading), killed
# with SIGKILL part-way through the file.
CHILD = """
import sys, time
from pathlib import Path
from tailored.judge import Judge, judge_file, read_pairs
from tailored.testing import ScriptedChatModel

class Slow(ScriptedChatModel):
    def _next(self, messages):
        time.sleep(0.05)
        return super()._next(messages)

judge_file(Judge(Slow(default="A"), calibrator=None), read_pairs(Path(sys.argv[1])), Path(sys.argv[2]), explain_verdicts=False)
"""


def write_pairs(path: Path, n: int) -> Path:
    rows = [{"id": f"p{i}", "query": f"q{i}", "response_a": "x", "response_b": "y", "label": "a"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ids(out: Path) -> list[str]:
    return [json.loads(line)["id"] for line in out.read_text().splitlines()]


def test_a_killed_run_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    src = write_pairs(tmp_path / "pairs.jsonl", 40)
    out = tmp_path / "out.jsonl"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(out)])
    deadline = time.monotonic() + 60
    while (not out.exists() or len(out.read_text().splitlines()) < 3) and time.monotonic() < deadline:
        assert child.poll() is None, "the child ended before it could be interrupted"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    first = ids(out)
    assert 3 <= len(first) < 40 and len(set(first)) == len(first)
    with out.open("a") as fh:  # a kill in the middle of a write leaves half a line
        fh.write('{"id": "p39", "label": "a", "judg')
    judged = judge_file(
        Judge(ScriptedChatModel(default="A"), calibrator=None), read_pairs(src), out, explain_verdicts=False
    )
    final = ids(out)
    assert judged == 40 - len(first)
    assert sorted(final) == sorted(f"p{i}" for i in range(40)) and len(final) == 40
    assert final[: len(first)] == first  # what was there is kept as it was
    assert all(JudgedPair.model_validate_json(line) for line in out.read_text().splitlines())


def test_an_interrupted_run_in_process_resumes(tmp_path: Path) -> None:
    src = write_pairs(tmp_path / "pairs.jsonl", 6)
    out = tmp_path / "out.jsonl"
    seen: list[str] = []

    def stop_after_two(row: JudgedPair) -> None:
        seen.append(row.id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    judge = Judge(ScriptedChatModel(default="A"), calibrator=None)
    with pytest.raises(KeyboardInterrupt):
        judge_file(judge, read_pairs(src), out, explain_verdicts=False, on_done=stop_after_two)
    assert ids(out) == ["p0", "p1"]
    assert judge_file(judge, read_pairs(src), out, explain_verdicts=False) == 4
    assert ids(out) == [f"p{i}" for i in range(6)]
    assert judge_file(judge, read_pairs(src), out, explain_verdicts=False) == 0


def test_bad_files_are_refused_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "query": "q", "response_a": "x", "response_b": "y"}\n{"id": "2", "query": "q"}\n')
    with pytest.raises(InvalidInput, match="bad.jsonl line 2: .*response_a"):
        read_pairs(bad)
    bad.write_text('{"id": "1", "query": "q", "response_a": "x", "response_b": "y"}\n' * 2)
    with pytest.raises(InvalidInput, match="appears twice"):
        read_pairs(bad)
    bad.write_text("\n")
    with pytest.raises(InvalidInput, match="no pairs"):
        read_pairs(bad)
    with pytest.raises(NotFound):
        read_pairs(tmp_path / "missing.jsonl")
    src = write_pairs(tmp_path / "ok.jsonl", 1)
    other = tmp_path / "other.jsonl"
    other.write_text("not json\n")
    with pytest.raises(InvalidInput, match="use another --out"):
        judge_file(Judge(ScriptedChatModel(), calibrator=None), read_pairs(src), other)
