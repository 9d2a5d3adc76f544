"""The two-proportion z-test against known values (computed with scipy.stats.norm)."""

from __future__ import annotations

import pytest

from mailfleet.desktop.services.significance import Sample, compare, verdict


@pytest.mark.parametrize(
    ("a", "b", "z", "p"),
    [
        (Sample(250, 1000), Sample(200, 1000), 2.677397763008329, 0.007419649261025687),
        (Sample(30, 500), Sample(20, 500), 1.4509525002200232, 0.14679308730857102),
        (Sample(52, 1000), Sample(48, 1000), 0.4103913408340613, 0.6815188972977639),
        (Sample(120, 2000), Sample(90, 2000), 2.126777210754324, 0.03343859867669464),
    ],
)
def test_compare_matches_known_values(a: Sample, b: Sample, z: float, p: float) -> None:
    result = compare(a, b)
    assert result.z == pytest.approx(z, rel=1e-9)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    swapped = compare(b, a)
    assert swapped.z == pytest.approx(-z, rel=1e-9)
    assert swapped.p_value == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Sample(0, 0), Sample(5, 100)),  # nothing sent on one side
        (Sample(0, 100), Sample(0, 100)),  # nobody clicked
        (Sample(100, 100), Sample(50, 50)),  # everybody clicked
    ],
)
def test_no_evidence_is_no_difference(a: Sample, b: Sample) -> None:
    assert compare(a, b).z == 0.0
    assert compare(a, b).p_value == 1.0


def test_impossible_samples_are_refused() -> None:
    with pytest.raises(ValueError):
        compare(Sample(11, 10), Sample(1, 10))
    with pytest.raises(ValueError):
        compare(Sample(-1, 10), Sample(1, 10))


def test_a_clear_lead_is_significant() -> None:
    result = verdict([Sample(200, 1000), Sample(250, 1000)])
    assert result.leader == 1
    assert result.significant
    assert result.p_value == pytest.approx(0.007419649261025687, rel=1e-9)


def test_a_small_lead_is_noise() -> None:
    result = verdict([Sample(30, 500), Sample(20, 500)])
    assert result.leader == 0
    assert not result.significant


def test_more_variants_need_a_bigger_lead() -> None:
    # p = 0.033 beats 5 % for two variants, but not 5 % shared among three comparisons.
    assert verdict([Sample(120, 2000), Sample(90, 2000)]).significant
    four = verdict([Sample(120, 2000), Sample(90, 2000), Sample(60, 2000), Sample(50, 2000)])
    assert four.leader == 0
    assert four.p_value == pytest.approx(0.03343859867669464, rel=1e-9)
    assert not four.significant


def test_ties_go_to_the_first_variant() -> None:
    result = verdict([Sample(10, 100), Sample(10, 100)])
    assert result.leader == 0
    assert not result.significant


def test_one_variant_proves_nothing() -> None:
    one = verdict([Sample(10, 100)])
    assert (one.leader, one.significant, one.p_value) == (0, False, 1.0)
    with pytest.raises(ValueError):
        verdict([])
    with pytest.raises(ValueError):
        verdict([Sample(1, 2)], confidence=1.0)
