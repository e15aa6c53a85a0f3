"""test_examples: examples/python compile (they are documented, not run: they need a CSV, Excel)."""

from __future__ import annotations

import glob
import os
import py_compile

import pytest

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                                         "python", "*.py")))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_compiles(path: str, tmp_path) -> None:
    py_compile.compile(path, cfile=str(tmp_path / "x.pyc"), doraise=True)
    with open(path, encoding="utf-8") as f:
        assert f.read(400).count('"""') >= 1, "an example opens with what it shows"
