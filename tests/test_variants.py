"""Each graded answer, rewritten wrong, loses its own tests and no others; rewritten right, loses none.

The variants live in ``tests/variants/<assignment>.py``:

* ``WRONG[grade_id][name]``: the source of a whole answer cell with one realistic mistake.
* ``CORRECT[grade_id][name]``: a correct answer written differently (loops, another formula).
* ``FAILS[grade_id]`` (optional): the test cells a wrong ``grade_id`` may fail, when more than its
  own ``test_<grade_id>`` depends on it. Default: just ``test_<grade_id>``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness import ROOT, release_path, run_cells, source_path, graded_test_ids

VARIANTS_DIR = Path(__file__).parent / "variants"


def _load_variants():
    for path in sorted(VARIANTS_DIR.glob("*.py")):
        assignment = path.stem
        if not source_path(assignment).exists():
            continue
        spec = importlib.util.spec_from_file_location(f"variants_{assignment}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield assignment, mod


CASES_WRONG, CASES_CORRECT = [], []
for _assignment, _mod in _load_variants():
    for gid, variants in getattr(_mod, "WRONG", {}).items():
        fails = tuple(getattr(_mod, "FAILS", {}).get(gid, [f"test_{gid}"]))
        for name, src in variants.items():
            CASES_WRONG.append(pytest.param(_assignment, gid, src, fails, id=f"{_assignment}-{gid}-{name}"))
    for gid, variants in getattr(_mod, "CORRECT", {}).items():
        for name, src in variants.items():
            CASES_CORRECT.append(pytest.param(_assignment, gid, src, id=f"{_assignment}-{gid}-{name}"))


@pytest.mark.parametrize("assignment, grade_id, source, fails", CASES_WRONG)
def test_wrong_answer_loses_only_its_own_points(assignment, grade_id, source, fails):
    results = run_cells(assignment, {grade_id: source})
    failed = {t for t, err in results.items() if err is not None}
    assert set(fails) & set(results), f"none of {fails} ran (tagged slow?)"
    missing = [t for t in fails if t in results and results[t] is None]
    assert not missing, f"wrong {grade_id} still passed {missing}"
    collateral = failed - set(fails)
    assert not collateral, f"wrong {grade_id} also failed {sorted(collateral)}: " + "; ".join(
        f"{t}: {results[t]}" for t in sorted(collateral)
    )


@pytest.mark.parametrize("assignment, grade_id, source", CASES_CORRECT)
def test_correct_answer_written_differently_gets_full_marks(assignment, grade_id, source):
    results = run_cells(assignment, {grade_id: source})
    failed = {t: err for t, err in results.items() if err is not None}
    assert not failed, f"a correct {grade_id} failed: {failed}"


ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_answers_pass_every_fast_test(assignment):
    results = run_cells(assignment)
    assert results, "no test cells ran"
    failed = {t: err for t, err in results.items() if err is not None}
    assert not failed, failed


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_notebook_fails_every_graded_test(assignment):
    results = run_cells(assignment, answers_from=release_path(assignment), skip_tags=frozenset({"demo"}))
    expected = set(graded_test_ids(assignment, include_slow=True))
    assert set(results) == expected
    passed = sorted(t for t, err in results.items() if err is None)
    assert not passed, f"the blank notebook passed {passed}"
