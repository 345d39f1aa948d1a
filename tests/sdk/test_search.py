"""The budget search: a candidate within the bounds (or a clear no), every trial reported, resumable from SQLite."""
import os

import pytest

from edgewise.pipeline import Search, Settings, optimize
from edgewise.report import read_json
from edgewise.search import Bounds, parse_size

FAST = Settings(formats=("tflite",), benchmark=False)


def test_parse_size():
    assert parse_size("40KB") == 40 * 1024 and parse_size("1.5 MiB") == 1536 * 1024 and parse_size("500") == 500
    with pytest.raises(ValueError, match="40XB"):
        parse_size("40XB")


@pytest.mark.host
@pytest.mark.slow
def test_search_finds_a_candidate_within_bounds_and_resumes(tmp_path, tiny_mlp, flat_digits):
    out = tmp_path / "out"
    search = Search(Bounds(max_accuracy_drop=3.0, max_size_bytes=parse_size("64KB")), trials=2, epochs=1)
    lines = []
    report = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, train=flat_digits.train, out_dir=out,
                      settings=FAST, search=search, progress=lines.append)
    s = report.search
    assert [c.trial for c in s.candidates] == [0, 1] and s.best is not None
    best = s.best_candidate
    assert best.meets_bounds and best.size_bytes <= 64 * 1024 and best.accuracy_drop <= 3.0
    assert best.size_bytes == min(c.size_bytes for c in s.candidates if c.meets_bounds)
    assert os.path.getsize(out / "best.ewb") == best.size_bytes  # the deployable artifact is the bundle
    assert best.recipe.steps[-1].kind == "quantize" and best.bits <= 8
    # the trial measured its int8 TFLite file; the bundle it ships decodes bit-exactly, so every backend agrees
    from edgewise.evaluate import evaluate_artifact, evaluate_backend

    tflite = out / os.path.dirname(best.artifact) / ".." / "model.int8.tflite"
    measured = evaluate_artifact(str(tflite), flat_digits.heldout)
    assert measured.accuracy == best.accuracy
    for r in measured.results:
        assert evaluate_backend(str(out / "best.ewb"), r.backend, flat_digits.heldout).accuracy == r.accuracy
    assert report.recipe == best.recipe and not report.error  # the kept recipe then ran as a normal run
    assert report.sensitivity is not None and set(report.sensitivity.parameters) == {"hidden", "classes"}
    assert (out / "search.db").is_file()
    page = (out / "report.html").read_text()
    assert "Budget search" in page and "Sensitivity" in page
    assert read_json(out / "report.json") == report

    # a second run with a larger budget continues the same study: only the missing trial runs
    lines.clear()
    again = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, train=flat_digits.train, out_dir=out,
                     settings=FAST, search=Search(search.bounds, trials=3, epochs=1), progress=lines.append)
    assert [c.trial for c in again.search.candidates] == [0, 1, 2]
    assert [l for l in lines if l.startswith("search: 2 trial(s) already")]
    assert [l.split(":")[0] for l in lines if l.startswith("trial ") and ": " in l and "[" not in l][:1] == ["trial 2"]
    assert again.search.candidates[:2] == s.candidates


@pytest.mark.host
@pytest.mark.slow
def test_interrupted_trial_is_retried_on_resume(tmp_path, tiny_mlp, flat_digits):
    out = tmp_path / "out"
    search = Search(Bounds(max_accuracy_drop=3.0), trials=2, epochs=1)

    def interrupt(line):
        if line.startswith("trial 1:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, train=flat_digits.train, out_dir=out,
                 settings=FAST, search=search, progress=interrupt)
    assert not (out / "best.ewb").exists()
    lines = []
    report = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, train=flat_digits.train, out_dir=out,
                      settings=FAST, search=search, progress=lines.append)
    states = [(c.trial, c.state) for c in report.search.candidates]
    assert states[0] == (0, "complete") and (1, "fail") in states
    retry = next(c for c in report.search.candidates if c.note.startswith("retry of interrupted trial 1"))
    assert retry.state in ("complete", "pruned") and retry.trial == 2
    assert report.search.candidates[2].recipe.steps == report.search.candidates[1].recipe.steps
    assert any("1 interrupted trial(s) queued again" in l for l in lines)


@pytest.mark.host
@pytest.mark.slow
def test_search_says_clearly_when_no_candidate_fits(tmp_path, tiny_mlp, flat_digits):
    from edgewise.cli import main
    from edgewise.data import save_npz

    tiny_mlp.save(tmp_path / "m.keras")
    for name, d in (("c", flat_digits.calibration), ("e", flat_digits.heldout), ("t", flat_digits.train)):
        save_npz(tmp_path / f"{name}.npz", d)
    out = tmp_path / "out"
    code = main(["optimize", str(tmp_path / "m.keras"), "--calib", str(tmp_path / "c.npz"), "--eval",
                 str(tmp_path / "e.npz"), "--train", str(tmp_path / "t.npz"), "--max-size", "200B", "--trials", "2",
                 "--search-epochs", "1", "--no-benchmark", "--formats", "tflite", "--out", str(out), "--json"])
    assert code == 1
    report = read_json(out / "report.json")
    assert report.error.startswith("none of the 2 candidates meets the bounds (accuracy drop <= 1 points, "
                                   "size <= 200 bytes)")
    assert "the smallest was" in report.error and not report.artifacts and not (out / "best.ewb").exists()
    assert all(not c.meets_bounds for c in report.search.candidates)


@pytest.mark.host
@pytest.mark.slow
def test_two_workers_share_one_study_through_a_storage_url(tmp_path, tiny_mlp, flat_digits):
    """Two output folders (two machines) on one RDB storage: the second sees the first's trials."""
    from edgewise.evaluate import keras_accuracy
    from edgewise.search import SearchSpace, run_search
    from edgewise.steps import StepContext

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    base = keras_accuracy(tiny_mlp, flat_digits.heldout)
    space = SearchSpace(epochs=1, filter_fractions=(0.0,), lowrank_fractions=(0.0,))
    bounds = Bounds(max_accuracy_drop=3.0)
    summaries = []
    for worker in ("a", "b"):
        ctx = StepContext(flat_digits.train, flat_digits.calibration, flat_digits.heldout, str(tmp_path / worker))
        summaries.append(run_search(tiny_mlp, ctx, base, bounds, trials=len(summaries) + 1, space=space,
                                    storage=url, study_name="shared"))
    a, b = summaries
    assert [c.trial for c in a.candidates] == [0] and [c.trial for c in b.candidates] == [0, 1]
    assert b.candidates[0] == a.candidates[0] and b.storage == url and not (tmp_path / "b" / "search.db").exists()
    assert (tmp_path / "b" / "trials" / "0001").is_dir() and not (tmp_path / "b" / "trials" / "0000").exists()


@pytest.mark.host
@pytest.mark.slow
def test_a_trial_left_running_by_a_killed_process_runs_again(tmp_path, tiny_mlp, flat_digits):
    import optuna

    from edgewise.evaluate import keras_accuracy
    from edgewise.search import SearchSpace, run_search
    from edgewise.steps import StepContext

    out = tmp_path / "out"
    out.mkdir()
    space = SearchSpace(epochs=1, filter_fractions=(0.0,), lowrank_fractions=(0.0,))
    # what a process killed mid-trial leaves in the study: a finished trial, then one still "running"
    study = optuna.create_study(storage=f"sqlite:///{out / 'search.db'}", study_name="edgewise-search",
                                directions=["minimize", "minimize"])
    study.enqueue_trial({"sparsity": 0.3, "filters": 0.0, "lowrank": 0.0, "sharing": "none", "quantize": "int8"})
    left = study.ask()
    space.recipe(left)  # the trial drew its parameters, then the process died
    assert left.params == {"sparsity": 0.3, "filters": 0.0, "lowrank": 0.0, "sharing": "none", "quantize": "int8"}
    ctx = StepContext(flat_digits.train, flat_digits.calibration, flat_digits.heldout, str(out))
    lines = []
    for _ in range(2):  # the second resume must not queue it again
        s = run_search(tiny_mlp, ctx, keras_accuracy(tiny_mlp, flat_digits.heldout), Bounds(max_accuracy_drop=3.0),
                       trials=1, space=space, progress=lines.append)
    assert [(c.trial, c.state) for c in s.candidates] == [(0, "fail"), (1, "complete")]
    assert s.candidates[1].note == "retry of interrupted trial 0"
    assert s.candidates[1].recipe.steps[0].magnitude.target_sparsity == 0.3
    assert sum("interrupted trial(s) queued again" in l for l in lines) == 1


@pytest.mark.host
def test_trials_can_share_weights_after_pruning():
    import optuna

    from edgewise.search import SearchSpace, _bits

    space = SearchSpace()
    for choice, kind, bits in (("cluster:8", "cluster", 3), ("kbit:4", "kbit", 4), ("none", None, 8)):
        params = {"sparsity": 0.8, "filters": 0.0, "lowrank": 0.0, "sharing": choice, "quantize": "int8"}
        recipe = space.recipe(optuna.trial.FixedTrial(params))
        kinds = [s.kind for s in recipe.steps]
        assert kinds == ["prune"] + ([kind] if kind else []) + ["quantize"]  # shared after pruning: zeros kept
        assert _bits(params) == bits
    assert "sharing" in space.start() and space.start()["sharing"] == "none"
