"""Traffic selectors: RFC 7296 2.9 narrowing and the mirror-image rule of the Huawei Cloud FAQ."""

from ipsecsim.proto.ts import TrafficSelector, select, selectors


def ts(*nets):
    return selectors(list(nets))


def test_mirror_images_are_accepted_by_both_policies():
    for policy in ("narrow", "exact"):
        assert select(policy, ts("10.1.0.0/24"), ts("10.2.0.0/24"), ts("10.1.0.0/24"), ts("10.2.0.0/24")) \
            == (ts("10.1.0.0/24"), ts("10.2.0.0/24"))


def test_narrowing_to_the_responders_subset():
    """RFC 7296 2.9: the responder may narrow to a subset of what was proposed."""
    answer = select("narrow", ts("10.1.0.0/16"), ts("10.2.0.0/16"), ts("10.1.5.0/24"), ts("10.2.0.0/16"))
    assert answer == (ts("10.1.5.0/24"), ts("10.2.0.0/16"))


def test_disjoint_selectors_are_unacceptable():
    assert select("narrow", ts("10.1.0.0/24"), ts("10.2.0.0/24"), ts("10.3.0.0/24"), ts("10.2.0.0/24")) is None


def test_exact_policy_requires_the_same_entries_and_masks():
    # Huawei Cloud FAQ: the interesting flows must be mirror images, same count and masks
    assert select("exact", ts("10.1.0.0/16"), ts("10.2.0.0/16"), ts("10.1.5.0/24"), ts("10.2.0.0/16")) is None
    assert select("exact", ts("10.1.0.0/24", "10.5.0.0/24"), ts("10.2.0.0/24"),
                  ts("10.5.0.0/24", "10.1.0.0/24"), ts("10.2.0.0/24")) is not None
    assert select("exact", ts("10.1.0.0/24"), ts("10.2.0.0/24"),
                  ts("10.1.0.0/24", "10.5.0.0/24"), ts("10.2.0.0/24")) is None


def test_selector_text_is_cidr_when_possible():
    assert str(TrafficSelector.from_network("10.101.0.0/24")) == "10.101.0.0/24"
    t = TrafficSelector.from_network("10.0.0.0/8").intersect(TrafficSelector.from_network("10.1.0.0/16"))
    assert str(t) == "10.1.0.0/16"
