"""The hand-written NumPy MLP trains the E1 model exactly as tinynet does."""
import numpy as np

from benchmarks.frameworks import TinynetTraining, random_data
from benchmarks.handwritten import HandwrittenMLP
from benchmarks.specs import find
from tinynet.train import train_step


def test_steps_give_the_weights_tinynet_gives():
    spec = find(["e1_mlp"])[0]
    x, y = random_data(spec, 3 * spec.batch_size)
    tinynet_side = TinynetTraining(spec, x, y)
    by_hand = HandwrittenMLP(tinynet_side.model, x, y, spec.batch_size, lr=1e-3)
    for start in range(0, len(x), spec.batch_size):     # the same batches on both sides
        batch = slice(start, start + spec.batch_size)
        train_step(tinynet_side.model, tinynet_side.loss_fn, tinynet_side.optimizer,
                   x[batch], y[batch])
        by_hand.train_step(x[batch], y[batch])
    # Adam's first steps are about lr * sign(grad): where a gradient is tiny, its rounding
    # shows in the update, so weights agree to a small fraction of lr (as against PyTorch).
    for tinynet_param, param in zip(tinynet_side.model.parameters(), by_hand.params):
        np.testing.assert_allclose(param, tinynet_param.data, rtol=0, atol=0.05 * 1e-3)


def test_run_trains_every_batch_once_and_stops_after_max_steps():
    spec = find(["e1_mlp"])[0]
    x, y = random_data(spec, 1000)
    tinynet_side = TinynetTraining(spec, x, y)
    by_hand = HandwrittenMLP(tinynet_side.model, x, y, spec.batch_size, lr=1e-3)
    by_hand.run(max_steps=3)
    assert by_hand.steps == 3
    by_hand.run()
    assert by_hand.steps == 13
