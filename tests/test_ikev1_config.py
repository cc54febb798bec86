"""Configuration checks for IKEv1 peers: what IKEv1 cannot express is one clear error naming
the field (exit 2 from the CLI), and every profile records its IKEv1 lifetime policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from factory import scenario_dict
from v1util import v1_peers

from ipsecsim.cli import main
from ipsecsim.config import profiles
from ipsecsim.errors import ConfigError


@pytest.mark.parametrize("a, path, words", [
    ({"ike": {"proposals": ["aes128gcm16-prfsha256-modp2048"]}}, "peers.A.ike.proposals[0]",
     ["aes128gcm16", "not available in IKEv1 phase 1", "aes256"]),
    ({"ike": {"proposals": ["aes128ctr-sha256-modp2048"]}}, "peers.A.ike.proposals[0]", ["aes128ctr"]),
    ({"ike": {"proposals": ["aes128-aes256-sha256-modp2048"]}}, "peers.A.ike.proposals[0]",
     ["one algorithm of each kind", "aes128-sha256-modp2048", "aes256-sha256-modp2048"]),
    ({"ike": {"proposals": ["aes128-sha256-prfsha512-modp2048"]}}, "peers.A.ike.proposals[0]",
     ["no separate PRF", "prfsha512"]),
    ({"ike": {"proposals": ["aes128-sha256_96-modp2048"]}}, "peers.A.ike.proposals[0]", ["hash algorithm"]),
    ({"child": {"proposals": ["chacha20poly1305"]}}, "peers.A.child.proposals[0]", ["chacha20poly1305", "ESP"]),
    ({"child": {"proposals": ["aes128-sha256", "aes128-sha256-sha1"]}}, "peers.A.child.proposals[1]",
     ["one algorithm of each kind"]),
    ({"child": {"proposals": ["aes128-sha256-modp2048", "aes128-sha256-ecp256"]}}, "peers.A.child.proposals",
     ["one DH group"]),
    ({"ike": {"mode": "aggressive", "proposals": ["aes128-sha256-modp2048", "aes128-sha256-ecp256"]}},
     "peers.A.ike.proposals", ["aggressive mode", "RFC 2409 5.4"]),
])
def test_what_ikev1_cannot_express(a: dict, path: str, words: list[str]) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as e:
        v1_peers(a)
    assert e.value.path == path
    for w in words:
        assert w in e.value.message


def test_ikev2_peers_are_not_affected() -> None:
    """The same proposals are fine for IKEv2 (RFC 7296 allows several transforms per type)."""
    from factory import two_peers
    two_peers({"ike": {"proposals": ["aes128gcm16-aes256gcm16-prfsha256-modp2048"]}})


def test_cli_exits_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = scenario_dict({"ike": {"version": 1, "proposals": ["aes256gcm16-prfsha384-ecp384"]}}, {"ike": {"version": 1}})
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(d))
    assert main(["run", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "peers.A.ike.proposals[0]" in err and "Traceback" not in err


def test_bad_lifetime_policy_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = scenario_dict({"ike": {"version": 1, "lifetime_policy": "lenient"}}, {"ike": {"version": 1}})
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(d))
    assert main(["run", str(f)]) == 2
    err = capsys.readouterr().err
    assert "peers.A.ike.lifetime_policy" in err and "obey" in err and "exact" in err


@pytest.mark.parametrize("name, policy, assumption", [("strongswan", "obey", False), ("huawei-cloud", "claim", True)])
def test_profiles_record_their_lifetime_policy(name: str, policy: str, assumption: bool) -> None:
    p = profiles.load(name)
    s = p.settings["ike.lifetime_policy"]
    assert s.value == policy and s.source in p.sources and s.note and s.assumption is assumption
