"""Retransmission schedules (strongSwan documentation, "Retransmission")."""

import random

import pytest

from ipsecsim.proto.retransmit import RetransmitSchedule


def test_strongswan_defaults_give_up_after_165_seconds():
    # docs.strongswan.org: timeout 4 s, base 1.8, 5 tries -> "gives up after 165 s"
    s = RetransmitSchedule(4.0, 1.8, 5)
    assert s.transmissions == 6
    assert s.send_offsets() == pytest.approx([0, 4, 11.2, 24.16, 47.488, 89.4784])
    assert s.give_up_after() == pytest.approx(4 * (1.8 ** 6 - 1) / (1.8 - 1))
    assert round(s.give_up_after()) == 165


def test_limit_caps_each_wait():
    s = RetransmitSchedule(1.0, 2.0, 7, limit=64.0)
    assert [s.nominal_wait(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 64, 64]


def test_fixed_schedules_are_data():
    s = RetransmitSchedule(waits=(15.0, 15.0, 15.0))
    assert s.transmissions == 3 and s.send_offsets() == [0, 15, 30] and s.give_up_after() == 45


def test_jitter_only_shortens_and_stays_within_its_percentage():
    s = RetransmitSchedule(4.0, 1.8, 5, jitter=20)
    rng = random.Random(7)
    for n in range(1, 7):
        w = s.wait(n, rng)
        assert s.nominal_wait(n) * 0.8 <= w <= s.nominal_wait(n)


def test_transmission_numbers_are_checked():
    with pytest.raises(ValueError):
        RetransmitSchedule().nominal_wait(7)
