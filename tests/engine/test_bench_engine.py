"""The benchmark's nets and its loop implementation stay correct (the speed ratio is
only meaningful if both sides compute the same thing)."""

import importlib.util
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_engine.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loop_reference_agrees_with_the_engine_on_net_1():
    bench = load_bench()
    name, shape, specs = bench.NETS[0]
    bench.check_loop_matches_engine(specs, shape)  # raises if loss or gradients differ


def test_benchmark_nets_have_the_issue_shapes():
    bench = load_bench()
    params = []
    for _, shape, specs in bench.NETS:
        model = bench.engine_net(specs, shape)
        assert model.output_shape == (10,)
        params.append(model.n_params)
    # 9·9+9 + 1521·10+10;  8·9+8 + 1568·100+100 + 100·10+10;  LeNet-like;  CIFAR net
    assert params[0] == 90 + 15220
    assert params[1] == 80 + 156900 + 1010
    assert params[2] == 832 + 51264 + 401536 + 1290
    assert params[3] == 896 + 18496 + 524416 + 1290
    x = np.zeros((2, 1, 28, 28), dtype=np.float32)
    assert bench.loop_step_ms(bench.NETS[0][2], (1, 28, 28), x, np.array([1, 2]), 1) > 0


def test_roofline_counts_three_products_per_layer_but_two_for_the_first():
    bench = load_bench()
    name, shape, specs = bench.NETS[0]  # conv 1→9 3x3 valid (26x26 out), dense 1521→10
    conv = 2 * 2 * 64 * 9 * 26 * 26 * 9  # forward + weight gradient, no input gradient
    dense = 3 * 2 * 64 * 1521 * 10
    assert bench.step_gflop(specs, shape) == (conv + dense) / 1e9
    _, lenet_shape, lenet_specs = bench.NETS[2]
    assert 4.1 < bench.step_gflop(lenet_specs, lenet_shape) < 4.3  # ~4.2 GFLOP (issue 13)
