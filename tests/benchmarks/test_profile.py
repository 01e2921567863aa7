"""The per-layer profile runs and accounts for every piece of the step."""
from benchmarks import profile
from benchmarks.specs import find


def test_profile_times_every_layer_and_the_rest(capsys):
    profile.main(["e2_lenet", "--samples", "128", "--threads", "1"])
    table = capsys.readouterr().out
    spec = find(["e2_lenet"])[0]
    for layer in spec.build().layers:
        assert f"| {layer!r}" in table
    assert "(parameters only)" in table.splitlines()[4]          # the first Conv2d
    for piece in ("gather the batch", "loss forward", "optimizer step", "**total**"):
        assert piece in table
    assert "s/epoch" in table


def test_batch1_model_is_profiled_per_step():
    spec = find(["e3_batch1"])[0]
    measured = profile.profile(spec, samples=30)
    assert measured["steps"] == 60
    assert all(seconds > 0 for seconds in measured["forward"] + measured["backward"])
    assert "ms/step" in profile.report(spec, measured, 30)
