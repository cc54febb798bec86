"""Vendor profiles: every setting is a real model field with a real source, every profile
loads onto a bare peer, and the values match reference/vendor-defaults.md (cited per row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipsecsim import ConfigError, load_scenario
from ipsecsim.cli import main
from ipsecsim.config import profiles
from ipsecsim.config.loader import deep_merge
from ipsecsim.config.profile_view import leaf_defaults

NAMES = profiles.names()
LEAVES = set(leaf_defaults()) | {"start"}


def bare(profile_a: str, profile_b: str = "strongswan", **a_extra: Any) -> dict[str, Any]:
    """Two peers with nothing but addresses, subnets, a pre-shared key and a profile."""
    return {"name": "bare", "duration": 10, "peers": {
        "A": {"profile": profile_a, "address": "192.0.2.1", "local_subnets": ["10.1.0.0/24"],
              "remote_subnets": ["10.2.0.0/24"], **deep_merge({"ike": {"psk": "k"}}, a_extra)},
        "B": {"profile": profile_b, "address": "192.0.2.2", "local_subnets": ["10.2.0.0/24"],
              "remote_subnets": ["10.1.0.0/24"], "ike": {"psk": "k"}}}}


def test_the_catalog_vendors_are_all_there() -> None:
    """Issue 7: at least these profiles, from reference/vendor-defaults.md."""
    assert set(NAMES) >= {"huawei-cloud", "huawei-usg", "alibaba-cloud", "aws-site-to-site", "azure-vpn-gateway",
                          "strongswan", "libreswan", "cisco-ios", "juniper-srx", "fortigate", "palo-alto"}


@pytest.mark.parametrize("name", NAMES)
def test_profile_loads_onto_a_bare_peer(name: str) -> None:
    sc = load_scenario(bare(name, name))
    assert sc.peers["A"].profile == name


@pytest.mark.parametrize("name", NAMES)
def test_every_value_is_a_model_field_with_a_source(name: str) -> None:
    p = profiles.load(name)
    assert p.name == name and p.title and p.description
    for key, text in p.sources.items():
        assert text.strip(), f"source {key} has no text"
    for path, s in p.settings.items():
        assert path in LEAVES, f"{name}: settings.{path} is not a peer setting of the model"
        assert s.source in p.sources
        if s.assumption:
            assert s.note, f"{name}: settings.{path} is an assumption without a reason"
    for path, lim in p.limits.items():
        assert path in LEAVES, f"{name}: limits.{path} is not a peer setting of the model"
        assert lim.source in p.sources
    for path, s in p.documented.items():
        assert s.source in p.sources
        assert path not in LEAVES, (f"{name}: documented.{path} is a model setting now: move it to settings "
                                    "so the simulator applies it")


def effective(name: str, path: str) -> Any:
    value: Any = load_scenario(bare(name)).config.peers["A"]
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("name, path, expected", [
    # reference/vendor-defaults.md, "AWS Site-to-Site VPN": Phase1 28800, Phase2 3600, StartupAction add
    ("aws-site-to-site", "ike.life_time", 28800.0),
    ("aws-site-to-site", "child.life_time", 3600.0),
    ("aws-site-to-site", "start", "respond"),
    # "Azure VPN Gateway": main mode 28800 s, quick mode 27000 s, 102,400,000 KB
    ("azure-vpn-gateway", "ike.version", 2),
    ("azure-vpn-gateway", "ike.life_time", 28800.0),
    ("azure-vpn-gateway", "child.life_time", 27000.0),
    ("azure-vpn-gateway", "child.life_bytes", 102_400_000 * 1000),
    # "Alibaba Cloud VPN Gateway": ikev1 / main, aes / md5 / group2, 86400 s both phases
    ("alibaba-cloud", "ike.version", 1),
    ("alibaba-cloud", "ike.mode", "main"),
    ("alibaba-cloud", "ike.proposals", ["aes128-md5-modp1024"]),
    ("alibaba-cloud", "ike.life_time", 86400.0),
    ("alibaba-cloud", "child.life_time", 86400.0),
    # "Huawei routers / firewalls": NE8000 IKE SA 86400 s, IPsec SA 3600 s / 20,000,000 KB
    ("huawei-usg", "ike.life_time", 86400.0),
    ("huawei-usg", "child.life_time", 3600.0),
    ("huawei-usg", "child.life_bytes", 20_000_000 * 1000),
    # "Libreswan": ikelifetime 8 h, salifetime 8 h
    ("libreswan", "ike.life_time", 8 * 3600.0),
    ("libreswan", "child.life_time", 8 * 3600.0),
    # "Cisco IOS": ISAKMP 86400 s, IPsec SA 3600 s / 4,608,000 KB
    ("cisco-ios", "ike.life_time", 86400.0),
    ("cisco-ios", "child.life_time", 3600.0),
    ("cisco-ios", "child.life_bytes", 4_608_000 * 1000),
    # "Juniper SRX": IPsec lifetime 28800 s
    ("juniper-srx", "child.life_time", 28800.0),
    # "Palo Alto PAN-OS": IKE key lifetime 8 h
    ("palo-alto", "ike.life_time", 8 * 3600.0),
])
def test_values_match_the_catalog(name: str, path: str, expected: Any) -> None:
    assert effective(name, path) == expected


@pytest.mark.parametrize("name, give_up, transmissions", [
    ("strongswan", 165.060, 6),  # task_manager_v2.c retransmit: 4000+7200+12960+23328+41990+75582 ms
    ("fortigate", 3 + 6 + 12 + 24 + 48, 5),             # catalog: 93 s, not configurable
    ("palo-alto", 5 + 10 + 20 + 40 + 6 * 60, 10),       # catalog: PAN-OS 11.0 5+10+20+40+60x6
    ("libreswan", 0.5 + 0.5 + 1 + 2 + 4 + 8 + 16 + 32, 8),  # pluto retransmit.c: 60 s timeout checked at 64 s
    ("huawei-cloud", 1 + 2 + 4 + 8 + 16 + 32 + 64 + 64, 8),  # 1 -> 64 s, 8 tries; last wait assumed 64 s
])
def test_retransmission_schedules(name: str, give_up: float, transmissions: int) -> None:
    rt = load_scenario(bare(name)).peers["A"].retransmit
    assert rt.transmissions == transmissions
    assert rt.give_up_after() == pytest.approx(give_up)


@pytest.mark.parametrize("name, override, message", [
    ("huawei-usg", {"child": {"life_time": "300s"}}, "5m is outside the range 480s-604800s that huawei-usg accepts"),
    ("huawei-usg", {"child": {"life_bytes": "1MB"}}, "outside the range 8000KB-200000000KB that huawei-usg accepts"),
    ("alibaba-cloud", {"ike": {"life_time": "2d"}}, "outside the range 0s-86400s that alibaba-cloud accepts"),
    ("aws-site-to-site", {"child": {"life_time": "2h"}}, "outside the range 900s-3600s that aws-site-to-site"),
])
def test_vendor_ranges_are_enforced(name: str, override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as e:
        load_scenario(bare(name, **override))
    assert e.value.path.startswith("peers.A.")


def test_profiles_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    listing = capsys.readouterr().out
    assert all(n in listing for n in NAMES)
    assert main(["profiles", "show", "huawei-cloud"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    assert "Documented vendor values not yet applied by the simulator" in out
    # each source printed once, referred to by number
    p = profiles.load("huawei-cloud")
    for i, (key, _text) in enumerate(p.sources.items(), 1):
        assert sum(line.startswith(f"[{i}] {key}:") for line in lines) == 1
    assert "retransmit.tries" in out and "assumption:" in out
    assert main(["profiles", "show", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_a_profile_file_with_an_unsourced_value_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nsources: {a: doc}\ndocumented:\n  dpd.delay: {value: 5s}\n")
    monkeypatch.setattr(profiles, "_dir", lambda: tmp_path)
    profiles.load.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"documented.dpd.delay.source: '' is not one of the profile's sources"):
            profiles.load("bad")
    finally:
        profiles.load.cache_clear()


@pytest.mark.parametrize("name", NAMES)
def test_the_listing_does_not_contradict_itself(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A value listed as documented but not applied is not also applied under another name, and
    every source listed is cited (by a value or in a note)."""
    p = profiles.load(name)
    assert not set(p.documented) & set(p.settings)
    cited = {s.source for s in (*p.settings.values(), *p.documented.values(), *p.limits.values())}
    cited |= {spec["source"] for spec in (p.extra.get("bgp") or {}).values()}  # the bgp: section (config/bgp.py)
    notes = " ".join(s.note or "" for s in (*p.settings.values(), *p.documented.values(), *p.limits.values()))
    assert all(key in cited or key in notes for key in p.sources), name
    assert main(["profiles", "show", name]) == 0
    out = capsys.readouterr().out
    assert "Pydantic" not in out and "import_" not in out


def test_huawei_cloud_rekey_points_are_applied_not_merely_documented(capsys: pytest.CaptureFixture[str]) -> None:
    """Huawei Cloud FAQ: a 3600 s IPsec SA is renegotiated at the 54th minute (90 %); the IKE
    SA's soft timeout is 9/10 of its lifetime: both are applied (rekey_time), so they are not
    listed again among the values the simulation does not use."""
    assert main(["profiles", "show", "huawei-cloud"]) == 0
    out = capsys.readouterr().out
    unused = out.split("not yet applied")[1].split("ipsecsim defaults")[0]
    assert "rekey" not in unused and "soft" not in unused


def test_profiles_show_lists_the_bgp_defaults_with_their_sources(capsys: pytest.CaptureFixture[str]) -> None:
    """Cisco IOS `timers bgp` defaults keepalive 60 s, holdtime 180 s (the profile's source
    ios_bgp); a profile without a bgp section falls back to RFC 4271 10's suggestions (hold 90 s,
    ConnectRetryTime 120 s) and says so."""
    assert main(["profiles", "show", "cisco-ios"]) == 0
    out = capsys.readouterr().out
    section = out.split("BGP defaults")[1].split("ipsecsim defaults")[0]
    ref = list(profiles.load("cisco-ios").sources).index("ios_bgp") + 1
    rows = {line.split()[0]: line.split()[1:3] for line in section.splitlines() if line.startswith("bgp.")}
    assert rows["bgp.hold_time"] == ["180s", f"[{ref}]"] and rows["bgp.keepalive"] == ["60s", f"[{ref}]"]
    assert rows["bgp.connect_retry"] == ["2m", "RFC"]
    assert main(["profiles", "show", "strongswan"]) == 0
    section = capsys.readouterr().out.split("BGP defaults")[1].split("ipsecsim defaults")[0]
    rows = {line.split()[0]: line.split()[1:] for line in section.splitlines() if line.startswith("bgp.")}
    assert rows["bgp.hold_time"][:3] == ["90s", "RFC", "4271"]
    assert rows["bgp.keepalive"][:5] == ["hold", "time", "/", "3", "RFC"]
    assert set(rows) == {"bgp.hold_time", "bgp.keepalive", "bgp.connect_retry", "bgp.sa_down", "bgp.idle_hold"}
