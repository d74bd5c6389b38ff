"""The collector's pace during a run (core/gcpace.py): raised for the block, restored after."""

from __future__ import annotations

import gc

import pytest

from linkkeeper.core import paced_collector
from linkkeeper.core.gcpace import YOUNG_THRESHOLD


def test_the_young_threshold_is_raised_for_the_block_and_restored_after_an_error() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with pytest.raises(RuntimeError), paced_collector():
            assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
            raise RuntimeError("a run that fails")
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_a_higher_threshold_or_a_switched_off_collector_is_left_alone() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(50_000, 20, 5)
        with paced_collector():
            assert gc.get_threshold() == (50_000, 20, 5)
        assert gc.get_threshold() == (50_000, 20, 5)
        gc.set_threshold(0, 10, 10)  # switched off: stays off
        with paced_collector():
            assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)
