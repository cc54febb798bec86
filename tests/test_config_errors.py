"""Bad input: one clear message naming the file, the field and what is allowed; exit 2; no traceback."""

import subprocess
import sys

import pytest
import yaml
from conftest import SCENARIOS
from factory import scenario_dict

from ipsecsim.cli import main


def write(tmp_path, data, name="s.yaml"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("mutate,path,fragment", [
    (lambda d: d["peers"]["A"]["ike"].update(proposal=["x"]), "peers.A.ike.proposal",
     "unknown key 'proposal'; allowed: version, mode, proposals"),
    (lambda d: d["peers"]["A"].update(start="sometimes"), "peers.A.start",
     "'sometimes' is not allowed; allowed: initiate, on-traffic, respond"),
    (lambda d: d["peers"]["A"]["ike"].update(version="two"), "peers.A.ike.version", "allowed: 1, 2"),
    (lambda d: d["peers"]["A"].update(retransmit={"tries": "many"}), "peers.A.retransmit.tries", "valid integer"),
    (lambda d: d["peers"]["B"]["ike"].update(proposals=["aes128-sha257-modp2048"]), "peers.B.ike.proposals[0]",
     "unknown algorithm 'sha257'"),
    (lambda d: d["peers"]["B"]["child"].update(proposals=["aes128gcm16-sha256"]), "peers.B.child.proposals[0]",
     "takes no integrity"),
    (lambda d: d["peers"]["A"].update(local_subnets=["10.101.0.0/33"]), "peers.A.local_subnets[0]",
     "invalid CIDR '10.101.0.0/33'"),
    (lambda d: d["peers"]["A"].update(local_subnets=["10.101.0.1/24"]), "peers.A.local_subnets[0]",
     "did you mean 10.101.0.0/24"),
    (lambda d: d["peers"]["A"].update(address="10.99.0.300"), "peers.A.address", "invalid IPv4 address"),
    (lambda d: d.update(duration="forever"), "duration", "duration such as 500ms"),
    (lambda d: d.update(name="x" * 65), "name", "1-64 characters"),
    (lambda d: d["peers"]["A"].update(profile="cisco-asa-9000"), "peers.A.profile",
     "unknown profile 'cisco-asa-9000'; available:"),
    (lambda d: d.update(link={"loss": 1.5}), "link.loss", "probability between 0 and 1"),
    (lambda d: d.update(link={"loss": {"model": "gilbert-elliott", "p": 0.1}}), "link.loss",
     "gilbert-elliott model: per-datagram form needs both p and r"),
    (lambda d: d["peers"].pop("B"), "peers", "at least two peers"),
    (lambda d: d["peers"]["A"].pop("address"), "peers.A.address", "required, but missing"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "freeze", "peer": "C"}]), "faults[0].peer",
     "unknown peer 'C'; peers: A, B"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "explode"}]), "faults[0].kind",
     "allowed: freeze, unfreeze, crash, restart, link_down, link_up, loss, delay, reconfigure, recreate, address"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "loss"}]), "faults[0]", "fault kind loss needs 'loss'"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "loss", "loss": 0.5, "direction": "A=>B"}]), "faults[0]",
     "must look like 'A->B'"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "loss", "loss": 0.5, "direction": "A->C"}]),
     "faults[0].direction", "unknown peer 'C'; peers: A, B"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "address", "peer": "A"}]), "faults[0]",
     "fault kind address needs 'address'"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "reconfigure", "peer": "A", "set": {"ike": {"psk": 5}}}]),
     "faults[0].set.ike.psk", "valid string"),
    (lambda d: d.update(faults=[{"at": "5s", "kind": "reconfigure", "peer": "A", "set": {"ike": {"pks": "x"}}}]),
     "faults[0].set.ike.pks", "unknown key 'pks'; allowed: version"),
])
def test_each_kind_of_bad_value(tmp_path, capsys, mutate, path, fragment):
    d = scenario_dict()
    mutate(d)
    p = write(tmp_path, d)
    code, out, err = run_cli(capsys, "run", str(p))
    assert code == 2 and out == ""
    assert err.startswith(f"ipsecsim: error: {p}: {path + ': ' if path else ''}"), err
    assert fragment in err
    assert err.count("\n") == 1  # one message


def test_profile_range_is_enforced_with_its_source(tmp_path, capsys):
    """Huawei Cloud API: ipsecpolicy lifetime_seconds is 30-604800."""
    d = scenario_dict(b={"profile": "huawei-cloud", "ike": {"proposals": ["aes128-sha256-modp2048"]},
                         "child": {"life_time": "10s"}})
    code, _, err = run_cli(capsys, "run", str(write(tmp_path, d)))
    assert code == 2 and "peers.B.child.life_time: 10s is outside the range 30s-604800s" in err
    assert "Huawei Cloud VPN API vpn_connection" in err  # the range names its source document


def test_missing_file(capsys):
    code, _, err = run_cli(capsys, "run", "no/such/scenario.yaml")
    assert code == 2 and err == "ipsecsim: error: no/such/scenario.yaml: no such file\n"


def test_broken_yaml_names_line_and_column(tmp_path, capsys):
    p = write(tmp_path, "name: x\npeers: {A: [\n  duration: 5")
    code, _, err = run_cli(capsys, "run", str(p))
    assert code == 2 and f"{p}: line " in err and "invalid YAML" in err


def test_not_a_mapping(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", str(write(tmp_path, "- just\n- a list\n")))
    assert code == 2 and "a scenario is a mapping" in err


def test_events_file_in_missing_directory_is_refused_before_running(tmp_path, capsys):
    p = write(tmp_path, scenario_dict())
    code, _, err = run_cli(capsys, "run", str(p), "--events", str(tmp_path / "nope" / "e.jsonl"))
    assert code == 2 and "--events: cannot write" in err and "does not exist" in err


def test_bad_flag_value_exits_2(tmp_path, capsys):
    p = write(tmp_path, scenario_dict())
    with pytest.raises(SystemExit) as e:
        main(["run", str(p), "--seed", "abc"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["run", str(p), "--duration", "soon"])
    assert e.value.code == 2
    assert "duration such as" in capsys.readouterr().err


def test_existing_output_is_not_clobbered_by_a_failed_run(tmp_path, capsys):
    events = tmp_path / "e.jsonl"
    events.write_text("previous run\n")
    bad = write(tmp_path, "name: [")
    assert main(["run", str(bad), "--events", str(events)]) == 2
    assert events.read_text() == "previous run\n"


def test_no_traceback_from_the_real_command(tmp_path):
    p = write(tmp_path, "name: x\nduration: 1m\npeers: 7\n")
    r = subprocess.run([sys.executable, "-m", "ipsecsim", "run", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "peers" in r.stderr


@pytest.mark.parametrize("ike,message", [
    ({"version": 2}, "peers.A.ike.psk: required, but missing"),
    ({"psk": ""}, "peers.A.ike.psk: string should have at least 1 character"),
])
def test_a_peer_without_a_pre_shared_key_is_refused(ike, message):
    """Authentication is by PSK (RFC 7296 2.15, RFC 2409 5.4): without one strongSwan finds no
    shared key and fails; a silent empty default would let two key-less peers connect."""
    from factory import base_scenario

    from ipsecsim.config.loader import load_scenario
    from ipsecsim.errors import ConfigError
    d = base_scenario()
    d["peers"]["A"]["ike"] = {"proposals": ["aes128-sha256-modp2048"], **ike}
    with pytest.raises(ConfigError) as e:
        load_scenario(d)
    assert str(e.value).startswith(message)


def test_several_problems_name_where_the_others_are(tmp_path, capsys):
    """The first problem in full, the others by field path; values spelled as in YAML."""
    from ipsecsim.cli import main
    d = yaml.safe_load((SCENARIOS / "ikev2-basic.yaml").read_text())
    d["peers"]["A"]["ike"]["psk"] = True
    d["peers"]["B"]["start"] = 7
    d["link"] = 5
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(d))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "peers.A.ike.psk: input should be a valid string (got true) (and 2 more problems, at link, " \
        "peers.B.start)" in err
    d["peers"]["A"]["ike"]["psk"] = "k"
    path.write_text(yaml.safe_dump(d))
    assert main(["run", str(path)]) == 2
    assert "peers.B.start: 7 is not allowed; allowed: initiate, on-traffic, respond (and 1 more problem, at link)" \
        in capsys.readouterr().err
    d["peers"]["B"]["start"] = "respond"
    path.write_text(yaml.safe_dump(d))
    assert main(["run", str(path)]) == 2
    assert "link: expected a mapping of keys, got 5" in capsys.readouterr().err
    d["link"] = {}
    d["peers"]["A"]["ike"]["psk"] = True
    path.write_text(yaml.safe_dump(d))
    assert main(["run", str(path)]) == 2
    assert "peers.A.ike.psk: input should be a valid string (got true)" in capsys.readouterr().err
