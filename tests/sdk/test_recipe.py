"""Recipes are data: they round-trip through JSON and YAML, and a bad one is refused before anything trains."""
import json
import os

import pytest

from edgewise.recipe import Recipe, check_recipe, load_recipe, save_recipe, shorthand
from edgewise.steps import STEP_KINDS, RecipeError

EVERY_KIND = {"name": "every kind", "steps": [
    {"kind": "prune", "magnitude": {"target_sparsity": 0.7, "layer_targets": {"hidden": 0.8}, "exclude": ["classes"]},
     "fine_tune": {"epochs": 2, "learning_rate": 0.0005}, "max_accuracy_drop": 0.5},
    {"kind": "prune", "structured": {"kind": "nm", "n": 2, "m": 4}},
    {"kind": "prune_filters", "filters": {"fraction": 0.25, "criterion": "l2"}},
    {"kind": "lowrank", "lowrank": {"energy": 0.9}},
    {"kind": "distill", "student": {"width": 0.5}, "distill": {"temperature": 3.0, "alpha": 0.5}},
    {"kind": "cluster", "cluster": {"clusters": 8, "init": "kmeans++", "per_channel": True}},
    {"kind": "kbit", "kbit": {"bits": 4, "method": "clustered"}},
    {"kind": "quantize", "mode": "int8", "formats": ["tflite", "onnx"]},
]}


def test_every_kind_round_trips_through_json(tmp_path):
    recipe = Recipe.from_dict(EVERY_KIND)
    assert [s.kind for s in recipe.steps] == [s["kind"] for s in EVERY_KIND["steps"]]
    assert {s.kind for s in recipe.steps} == set(STEP_KINDS)
    assert recipe.steps[0].magnitude.layer_targets == {"hidden": 0.8}
    assert recipe.steps[5].cluster.per_channel is True
    path = tmp_path / "r.json"
    save_recipe(recipe, path)
    again = load_recipe(path)
    assert again == recipe
    assert json.loads(path.read_text()) == recipe.to_dict()
    assert Recipe.from_dict(json.loads(json.dumps(again.to_dict()))).to_dict() == recipe.to_dict()


def test_yaml_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: y\nsteps:\n  - kind: prune\n    magnitude: {target_sparsity: 0.5}\n  - kind: quantize\n")
    expected = Recipe.from_dict({"name": "y", "steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.5}},
                                                        {"kind": "quantize"}]})
    assert load_recipe(path) == expected
    assert [s.describe() for s in expected.steps] == ["prune 50% (magnitude)", "quantize int8 (tflite)"]


def test_shorthand_is_the_recipe_of_the_old_flags():
    r = shorthand(0.8, "int8", formats=("tflite", "onnx"))
    assert [s.kind for s in r.steps] == ["prune", "quantize"]
    assert r.steps[0].magnitude.target_sparsity == 0.8 and r.steps[1].formats == ("tflite", "onnx")
    with pytest.raises(RecipeError, match="prune"):
        shorthand(1.5)


@pytest.mark.parametrize("steps, where", [
    ([{"kind": "shrink"}], "recipe step 1 (shrink): field 'kind': unknown step kind 'shrink'"),
    ([{"kind": "quantize"}, {"kind": "prune", "magnitude": {"target_sparsity": 1.0}}],
     "recipe step 2 (prune): PruneStep.magnitude: MagnitudeConfig.target_sparsity must be in [0, 1)"),
    ([{"kind": "prune", "magnitude": {"target_sparsity": -0.1}}], "recipe step 1 (prune)"),
    ([{"kind": "cluster", "cluster": {"clusters": 1}}], "recipe step 1 (cluster): ClusterStep.cluster: ClusterConfig.clusters"),
    ([{"kind": "kbit", "kbit": {"bits": 9}}], "recipe step 1 (kbit): KBitStep.kbit: KBitConfig.bits"),
    ([{"kind": "quantize", "mode": "int4"}], "recipe step 1 (quantize): field 'mode'"),
    ([{"kind": "prune", "magnitude": {"target_sparsity": 0.5}, "epochs": 3}],
     "recipe step 1 (prune): PruneStep: unknown field(s) epochs"),
    ([{"kind": "prune"}], "recipe step 1 (prune): field 'magnitude': give exactly one"),
    ([{"kind": "quantize"}, {"kind": "prune", "magnitude": {"target_sparsity": 0.5}}],
     "recipe step 2 (prune): comes after the post-training step 1 (quantize)"),
    ([{"magnitude": {"target_sparsity": 0.5}}], "recipe step 1: field 'kind': missing 'kind'"),
])
def test_bad_recipe_documents_name_the_step_and_field(steps, where):
    with pytest.raises(RecipeError) as e:
        Recipe.from_dict({"steps": steps})
    assert str(e.value).startswith(where), str(e.value)


def test_unreadable_recipe_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RecipeError, match="bad.json: not a readable recipe"):
        load_recipe(bad)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_recipe(tmp_path / "missing.json")


@pytest.mark.host
@pytest.mark.parametrize("step, where", [
    ({"kind": "prune", "magnitude": {"target_sparsity": 0.5, "include": ["conv*"]}},
     "recipe step 2 (prune): MagnitudeConfig.include: pattern 'conv*' matches no layer"),
    ({"kind": "cluster", "cluster": {"clusters": 8, "exclude": ["nope"]}}, "recipe step 2 (cluster)"),
    ({"kind": "prune_filters", "filters": {"fraction": 0.5, "include": ["conv*"]}}, "recipe step 2 (prune_filters)"),
    ({"kind": "kbit", "kbit": {"bits": 4, "layer_bits": {"dense_9": 2}}}, "recipe step 2 (kbit)"),
])
def test_a_pattern_matching_nothing_is_refused_before_training(tmp_path, tiny_mlp, flat_digits, step, where):
    from edgewise.pipeline import optimize

    recipe = {"steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.5}}, step, {"kind": "quantize"}]}
    with pytest.raises(RecipeError) as e:
        check_recipe(Recipe.from_dict(recipe), tiny_mlp)
    assert str(e.value).startswith(where), str(e.value)
    out = tmp_path / "out"
    weights = [w.copy() for w in tiny_mlp.get_weights()]
    with pytest.raises(RecipeError, match=r"recipe step 2"):
        optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, recipe, train=flat_digits.train,
                 out_dir=out)
    assert not out.exists()  # refused before anything was written, so before any training
    assert all((a == b).all() for a, b in zip(weights, tiny_mlp.get_weights()))


@pytest.mark.host
def test_cli_refuses_a_bad_recipe_naming_the_step(tmp_path, tiny_mlp, flat_digits, capsys):
    from edgewise.cli import main
    from edgewise.data import save_npz

    tiny_mlp.save(tmp_path / "m.keras")
    save_npz(tmp_path / "c.npz", flat_digits.calibration)
    save_npz(tmp_path / "e.npz", flat_digits.heldout)
    (tmp_path / "r.json").write_text(json.dumps({"steps": [{"kind": "cluster", "cluster": {"clusters": 1}}]}))
    code = main(["optimize", str(tmp_path / "m.keras"), "--recipe", str(tmp_path / "r.json"), "--calib",
                 str(tmp_path / "c.npz"), "--eval", str(tmp_path / "e.npz"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "r.json: recipe step 1 (cluster)" in err and "clusters" in err
    assert sorted(os.listdir(tmp_path / "out")) == ["edgewise.log"]  # no model file, no report
