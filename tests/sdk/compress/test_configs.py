"""Every technique's config: JSON round trip, and bad values refused naming the field."""
import json

import pytest

from edgewise.compress import ConstantSparsity, PolynomialDecay, PruneConfig
from edgewise.compress.clustering import ClusterConfig
from edgewise.compress.distill import DistillConfig, StudentConfig
from edgewise.compress.kbit import KBitConfig, LayerBits
from edgewise.compress.lowrank import FactorizedLayer, LowRankConfig
from edgewise.compress.pruning import FilterPruneConfig, MagnitudeConfig, RemovedFilters, StructuredConfig
from edgewise.compress.train import FineTuneConfig

CONFIGS = [
    FineTuneConfig(epochs=2, optimizer="sgd", validation_fraction=0.2),
    MagnitudeConfig(0.8, {"fc*": 0.9, "out": 0.5}, ("fc*", "out"), ("fc2",),
                    schedule=PolynomialDecay(0.8, 0, 100, frequency=3)),
    MagnitudeConfig(0.5, schedule=ConstantSparsity(0.5, 2, 20, 2)),
    StructuredConfig("nm", 1, 8, exclude=("conv1",)),
    StructuredConfig("block", block=(2, 8), sparsity=0.75),
    FilterPruneConfig(0.3, {"conv2": 0.5}, "sensitivity", exclude=("out",)),
    ClusterConfig(8, "kmeans++", per_channel=True),
    LowRankConfig(param_fraction=0.4, conv="tucker2"),
    DistillConfig(2.0, 0.5), StudentConfig(0.25, ("conv2",)),
    KBitConfig(3, "clustered", False, {"out": 8}),
    PruneConfig(0.7, epochs=2, schedule=ConstantSparsity(0.7, 0, -1, 3), layer_targets={"conv*": 0.5}),
    RemovedFilters("conv1", 8, (1, 4)), FactorizedLayer("fc", "svd", (4,), 100, 40),
    LayerBits("fc", "kernel", 4, "uniform", True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: type(c).__name__)
def test_json_round_trip(config):
    again = type(config).from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_schedule_kind_decides_the_union():
    d = PruneConfig(0.6, schedule=PolynomialDecay(0.6, 0, 10)).to_dict()
    assert d["schedule"]["kind"] == "polynomial_decay"
    d["schedule"] = {"kind": "polynomial_decay", "target_sparsity": 0.6, "begin_step": 0, "end_step": 10}
    assert isinstance(PruneConfig.from_dict(d).schedule, PolynomialDecay)


@pytest.mark.parametrize("make, field", [
    (lambda: FineTuneConfig(epochs=-1), "FineTuneConfig.epochs"),
    (lambda: FineTuneConfig(optimizer="adagrad"), "FineTuneConfig.optimizer"),
    (lambda: FineTuneConfig(learning_rate=0.0), "FineTuneConfig.learning_rate"),
    (lambda: MagnitudeConfig(1.0), "MagnitudeConfig.target_sparsity"),
    (lambda: MagnitudeConfig(0.5, {"fc": 1.5}), "MagnitudeConfig.layer_targets['fc']"),
    (lambda: MagnitudeConfig(0.5, frequency=0), "MagnitudeConfig.frequency"),
    (lambda: StructuredConfig("nm", 2, 16), "StructuredConfig.m"),
    (lambda: StructuredConfig("nm", 3, 4), "StructuredConfig.n"),
    (lambda: StructuredConfig("diagonal"), "StructuredConfig.kind"),
    (lambda: StructuredConfig("block", block=(3, 4)), "StructuredConfig.block[0]"),
    (lambda: StructuredConfig("block", sparsity=0.3), "StructuredConfig.sparsity"),
    (lambda: FilterPruneConfig(1.0), "FilterPruneConfig.fraction"),
    (lambda: FilterPruneConfig(criterion="random"), "FilterPruneConfig.criterion"),
    (lambda: ClusterConfig(1), "ClusterConfig.clusters"),
    (lambda: ClusterConfig(8, "random"), "ClusterConfig.init"),
    (lambda: LowRankConfig(energy=0.0), "LowRankConfig.energy"),
    (lambda: LowRankConfig(conv="cp"), "LowRankConfig.conv"),
    (lambda: DistillConfig(temperature=0.0), "DistillConfig.temperature"),
    (lambda: DistillConfig(alpha=1.5), "DistillConfig.alpha"),
    (lambda: StudentConfig(width=0.0), "StudentConfig.width"),
    (lambda: KBitConfig(1), "KBitConfig.bits"),
    (lambda: KBitConfig(4, layer_bits={"fc": 9}), "KBitConfig.layer_bits['fc']"),
    (lambda: KBitConfig(4, "lloyd"), "KBitConfig.method"),
    (lambda: PruneConfig(1.2), "PruneConfig.target_sparsity"),
    (lambda: PruneConfig(0.5, batch_size=0), "PruneConfig.batch_size"),
])
def test_bad_values_are_refused_naming_the_field(make, field):
    with pytest.raises(ValueError) as e:
        make()
    assert field in str(e.value)


def test_unknown_field_is_refused():
    with pytest.raises(ValueError, match="clusterz"):
        ClusterConfig.from_dict({"clusterz": 4})
