"""The module's docstring example runs."""

from __future__ import annotations

import doctest
from pathlib import Path


def test_docstring_example_runs(tmp_path: Path) -> None:
    from tailored.server import mcp_tools

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(mcp_tools, extraglobs={"tmp": tmp_path}) if t.examples]
    assert tests
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
