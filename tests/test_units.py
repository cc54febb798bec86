"""Units of scenario files (DESIGN.md: durations 500ms, 90s, 2m, 4h, 7d; sizes 1500B, 64KB, 20GB)."""

import pytest

from ipsecsim.config.units import format_duration, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize("text,seconds", [
    ("500ms", 0.5), ("90s", 90), ("2m", 120), ("4h", 14400), ("7d", 604800), ("1w", 604800),
    ("1h30m", 5400), (" 15 s ", 15), (30, 30), (2.5, 2.5), ("0", 0), ("1.5h", 5400),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["4 hours", "h", "", "-5s", -1, True, None, "5x"])
def test_bad_durations_name_the_accepted_forms(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("text,size", [
    ("1500B", 1500), ("64KB", 64_000), ("20GB", 20_000_000_000), ("1GiB", 2**30), ("1843200KB", 1_843_200_000),
    (1400, 1400),
])
def test_sizes(text, size):
    # Decimal prefixes: Huawei Cloud quotes "20 GB" and AWS/Azure quote volumes in KB = 1000 bytes.
    assert parse_size(text) == size


@pytest.mark.parametrize("text,bps", [
    ("1Gbit/s", 1e9), ("100Mbps", 1e8), ("10MB/s", 8e7), ("64kbit/s", 64e3), (1000, 1000),
])
def test_rates(text, bps):
    assert parse_rate(text) == bps


def test_format_round_trip():
    for s in (0.5, 90, 120, 14400, 604800, 5400):
        assert parse_duration(format_duration(s)) == pytest.approx(s)
