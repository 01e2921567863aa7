"""Machine facts: the CPU steal share."""
from benchmarks.machine import cpu_ticks, steal_fraction


def test_steal_fraction_is_the_steal_share_of_all_cpu_ticks():
    before = [100, 0, 20, 500, 0, 0, 0, 10]
    after = [160, 0, 30, 520, 0, 0, 0, 40]           # 120 ticks, 30 of them stolen
    assert steal_fraction(before, after) == 0.25
    assert steal_fraction(None, after) is None and steal_fraction(before, before) is None
    ticks = cpu_ticks()
    assert ticks is None or (len(ticks) == 8 and all(t >= 0 for t in ticks))
