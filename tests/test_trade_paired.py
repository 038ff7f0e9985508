"""benchmarks/trade_paired.py's statistics: a sign test and a bootstrap by solo, on figures whose answer is known."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SPEC = importlib.util.spec_from_file_location(
    "trade_paired", Path(__file__).resolve().parent.parent / "benchmarks" / "trade_paired.py")
paired = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(paired)


def test_the_sign_test_is_one_sided_and_exact() -> None:
    assert paired.sign_test(5, 5) == 1 / 32
    assert paired.sign_test(0, 7) == 1.0 and paired.sign_test(0, 0) == 1.0
    assert paired.sign_test(3, 4) == pytest.approx(5 / 16)


def test_the_same_model_twice_differs_by_nothing() -> None:
    a = torch.tensor([10.0, 20.0, 30.0, 5.0], dtype=torch.float64)
    row = paired.compare(a, a.clone(), torch.tensor([4.0, 5.0, 6.0, 2.0], dtype=torch.float64),
                         torch.tensor([0, 0, 1, 2]), draws=200, seed=0)
    assert row["b_minus_a"] == 0 and row["bootstrap_95"] == [0.0, 0.0] and row["sign_test_p"] == 1.0
    assert row["solos"] == 3 and row["b_likelier_solos"] == 0 and row["b_likelier_pairs"] == 0


def test_uncertainty_counts_solos_not_pairs() -> None:
    # Forty pairs from two solos: B is better on all 20 pairs of one solo and worse on all of the other's. Pair by
    # pair that would look settled; by solo it is one win in two, and the interval spans both solos' differences.
    solos = torch.tensor([0] * 20 + [1] * 20)
    a = torch.full((40,), 10.0, dtype=torch.float64)
    b = torch.where(solos == 0, 9.0, 10.5).double()
    notes = torch.full((40,), 5.0, dtype=torch.float64)
    row = paired.compare(a, b, notes, solos, draws=2000, seed=1)
    assert row["b_likelier_pairs"] == 20 and row["b_likelier_solos"] == 1 and row["sign_test_p"] == 0.75
    assert row["b_minus_a"] == pytest.approx((20 * -1.0 + 20 * 0.5) / 200)
    low, high = row["bootstrap_95"]
    assert low == pytest.approx(-0.2) and high == pytest.approx(0.1)  # both draws of one solo twice happen
