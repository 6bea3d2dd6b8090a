import pytest

from kb.stats import paired_difference


def test_paired_difference_interval() -> None:
    assert paired_difference([1.0, 0.0, 1.0], [1.0, 0.0, 1.0]) == (0.0, 0.0, 0.0)
    better = [1.0] * 40 + [0.0] * 24
    worse = [1.0] * 30 + [0.0] * 34
    diff, low, high = paired_difference(better, worse)
    assert diff == pytest.approx(10 / 64) and 0 < low < diff < high
    # ten questions net, but won 25 and lost 15: within the noise of 64 questions
    noisy_a = [1.0] * 25 + [0.0] * 15 + [1.0] * 24
    noisy_b = [0.0] * 25 + [1.0] * 15 + [1.0] * 24
    diff, low, high = paired_difference(noisy_a, noisy_b)
    assert diff == pytest.approx(10 / 64) and low < 0 < high
    with pytest.raises(ValueError, match="3 and 2"):
        paired_difference([1.0, 0.0, 1.0], [1.0, 0.0])
