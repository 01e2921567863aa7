"""Checkpoints: training continued from one is bit-identical to training without the break; a
checkpoint for another model fails naming every mismatch; the file is written atomically."""
import json
import os

import numpy as np
import pytest

from tinynet import backend
from tinynet.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential
from tinynet.optim import SGD, Adam, RMSprop
from tinynet.train import KeepBest, StopOnPlateau, fit


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[0, 3], [3, -2], [-3, -2]], np.float32)
    return centres[labels] + rng.standard_normal((n, 2)).astype(np.float32), labels


def build(optimizer_class, loader_seed, width=16):
    """A fresh model (BatchNorm running statistics, Dropout masks), optimizer and loader."""
    model = Sequential(Linear(2, width), BatchNorm1d(width), ReLU(), Dropout(0.2),
                       Linear(width, 3))
    optimizer = optimizer_class(model.parameters(), lr=0.05, **(
        {"momentum": 0.9} if optimizer_class is SGD else {}))
    loader = DataLoader(*blobs(), batch_size=16, shuffle=True, seed=loader_seed)
    return model, optimizer, loader


def train(model, optimizer, loader, epochs):
    return fit(model, CrossEntropyLoss(), optimizer, loader, epochs, progress=False).step_loss


def assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("optimizer_class", [Adam, SGD, RMSprop])
@pytest.mark.parametrize("loader_seed", [3, None])   # None: shuffles from backend.host_rng()
def test_continuing_from_a_checkpoint_is_bit_identical(tmp_path, optimizer_class, loader_seed):
    backend.seed(0)
    model, optimizer, loader = build(optimizer_class, loader_seed)
    straight = train(model, optimizer, loader, epochs=4)

    backend.seed(0)
    first, first_optimizer, first_loader = build(optimizer_class, loader_seed)
    before = train(first, first_optimizer, first_loader, epochs=2)
    save_checkpoint(tmp_path / "ckpt.npz", first, first_optimizer, first_loader, epoch=2)

    backend.seed(123)                       # a fresh process: other weights, other streams
    again, again_optimizer, again_loader = build(optimizer_class, loader_seed)
    info = load_checkpoint(tmp_path / "ckpt.npz", again, again_optimizer, again_loader)
    assert info == {"epoch": 2}
    after = train(again, again_optimizer, again_loader, epochs=2)

    assert before + after == straight       # every step loss, bit for bit
    assert_same_state(again.state_dict(), model.state_dict())
    theirs, ours = optimizer.state_dict(), again_optimizer.state_dict()
    assert theirs["defaults"] == ours["defaults"] and theirs["state"].keys() == ours["state"].keys()
    for index in theirs["state"]:
        assert_same_state(theirs["state"][index], ours["state"][index])


def test_round_trip_keeps_batchnorm_statistics_and_optimizer_state(tmp_path, backend_name):
    model, optimizer, loader = build(Adam, 1)
    train(model, optimizer, loader, epochs=1)
    save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, loader)
    other, other_optimizer, other_loader = build(Adam, 2)
    load_checkpoint(tmp_path / "ckpt.npz", other, other_optimizer, other_loader)
    state = other.state_dict()
    assert_same_state(state, model.state_dict())
    assert state["1.num_batches_tracked"] == len(loader)
    assert other_optimizer.state[0]["step"] == len(loader)
    assert type(other_optimizer.state[0]["exp_avg"]) is backend.xp.ndarray
    assert other_optimizer.defaults == optimizer.defaults     # betas back as a tuple
    np.testing.assert_array_equal(other_loader.rng.permutation(10), loader.rng.permutation(10))


def test_checkpoint_for_another_architecture_lists_mismatches_and_changes_nothing(tmp_path):
    model, optimizer, _ = build(Adam, 0, width=16)
    save_checkpoint(tmp_path / "ckpt.npz", model, optimizer)
    wider, wider_optimizer, _ = build(Adam, 0, width=32)
    untouched = wider.state_dict()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "ckpt.npz", wider, wider_optimizer)
    message = str(info.value)
    assert "ckpt.npz: the checkpoint does not fit" in message
    assert r"0.weight: expected shape (32, 2), got (16, 2)" in message
    assert "1.running_mean: expected shape (32,), got (16,)" in message
    assert_same_state(wider.state_dict(), untouched)

    without_batchnorm = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
    with pytest.raises(CheckpointError, match=r"missing keys: \['2.bias', '2.weight'\]; "
                                              r"unexpected keys: \['1.bias', "):
        load_checkpoint(tmp_path / "ckpt.npz", without_batchnorm)


def test_checkpoint_for_another_optimizer_fails_and_leaves_the_model_unchanged(tmp_path):
    model, optimizer, _ = build(Adam, 0)
    train(model, optimizer, DataLoader(*blobs(), 16), epochs=1)
    save_checkpoint(tmp_path / "ckpt.npz", model, optimizer)
    fresh, sgd, _ = build(SGD, 0)
    untouched = fresh.state_dict()
    with pytest.raises(CheckpointError, match="SGD: cannot load the state of a Adam optimizer"):
        load_checkpoint(tmp_path / "ckpt.npz", fresh, sgd)
    assert_same_state(fresh.state_dict(), untouched)


def test_missing_parts_and_foreign_files_are_named(tmp_path):
    model, optimizer, loader = build(Adam, 0)
    save_checkpoint(tmp_path / "model_only.npz", model)
    with pytest.raises(CheckpointError, match="model_only.npz: holds no optimizer state"):
        load_checkpoint(tmp_path / "model_only.npz", model, optimizer)
    with pytest.raises(CheckpointError, match="holds no loader state"):
        load_checkpoint(tmp_path / "model_only.npz", model, loader=loader)

    model.save(tmp_path / "weights.npz")
    with pytest.raises(CheckpointError, match=r"weights.npz: not a tinynet checkpoint.*model.load"):
        load_checkpoint(tmp_path / "weights.npz", model)

    content = (tmp_path / "model_only.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(content[: len(content) // 2])
    with pytest.raises(CheckpointError, match="truncated.npz: not a readable .npz file"):
        load_checkpoint(tmp_path / "truncated.npz", model)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "typo.npz", model)


def test_checkpoint_is_plain_npz_with_readable_metadata(tmp_path):
    model, optimizer, loader = build(Adam, 0)
    train(model, optimizer, loader, epochs=1)
    save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, loader, epoch=1, step=8)
    with np.load(tmp_path / "ckpt.npz") as archive:        # no pickle needed
        meta = json.loads(str(archive["meta"]))
        assert "model/0.weight" in archive.files and "optimizer/0/exp_avg" in archive.files
    assert meta["format"] == "tinynet-checkpoint" and meta["info"] == {"epoch": 1, "step": 8}
    assert meta["optimizer"]["name"] == "Adam" and meta["backend"] == "numpy"


def test_a_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temporary_file(
        tmp_path, monkeypatch):
    model, optimizer, _ = build(Adam, 0)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, optimizer)
    good = path.read_bytes()

    def disk_full(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("No space left on device")
    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, model, optimizer, epoch=5)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


def test_info_that_is_not_json_fails_before_anything_is_written(tmp_path):
    model, _, _ = build(Adam, 0)
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "ckpt.npz", model, note=object())
    assert list(tmp_path.iterdir()) == []


def test_callback_state_round_trips_with_arrays_and_model_states(tmp_path):
    model, optimizer, loader = build(Adam, 0)
    keep_best, plateau = KeepBest(model), StopOnPlateau(patience=2, min_change=0.01)
    fit(model, CrossEntropyLoss(), optimizer, loader, 2, DataLoader(*blobs(seed=1), 40),
        callbacks=[keep_best, plateau], progress=False)
    save_checkpoint(tmp_path / "c.npz", model, optimizer, loader, callbacks=[keep_best, plateau])
    fresh_model, fresh_optimizer, fresh_loader = build(Adam, 0)
    restored = [KeepBest(fresh_model), StopOnPlateau(patience=2, min_change=0.01)]
    load_checkpoint(tmp_path / "c.npz", fresh_model, fresh_optimizer, fresh_loader,
                    callbacks=restored)
    assert (restored[0].best, restored[0].epoch) == (keep_best.best, keep_best.epoch)
    assert_same_state(restored[0].state, keep_best.state)
    assert restored[1].values == plateau.values and len(plateau.values) == 2
    with pytest.raises(CheckpointError, match="holds the state of 2 callbacks, 1 given"):
        load_checkpoint(tmp_path / "c.npz", fresh_model, fresh_optimizer, fresh_loader,
                        callbacks=restored[:1])


def test_checkpoints_are_readable_like_every_other_output(tmp_path):
    model, optimizer, loader = build(SGD, 0)
    save_checkpoint(tmp_path / "c.npz", model)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o666 & ~umask
