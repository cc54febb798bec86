"""Trace options: determinism, the scenario's ``trace:`` block, CLI flags, bad input, and
algorithms Wireshark cannot decrypt (marked or refused, never silently mis-described)."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import SCENARIOS
from factory import scenario_dict
from tracehelp import run_with_trace, verify_trace

from ipsecsim.cli import main
from ipsecsim.trace import dissect

LOSSY = SCENARIOS / "ikev2-lossy-link.yaml"


def test_same_seed_gives_byte_identical_files(tmp_path) -> None:
    _, p1, k1, _ = run_with_trace(tmp_path, LOSSY, name="one")
    _, p2, k2, _ = run_with_trace(tmp_path, LOSSY, name="two")
    assert p1.read_bytes() == p2.read_bytes()
    assert k1.read_bytes() == k2.read_bytes()


def test_another_seed_gives_other_bytes(tmp_path) -> None:
    data = yaml.safe_load(LOSSY.read_text())
    _, p1, k1, _ = run_with_trace(tmp_path, data, name="one")
    _, p2, k2, _ = run_with_trace(tmp_path, {**data, "seed": data["seed"] + 1}, name="two")
    assert p1.read_bytes() != p2.read_bytes()
    assert k1.read_bytes() != k2.read_bytes()


def test_classic_pcap_and_raw_ip_are_written_and_dissected(tmp_path) -> None:
    for fmt, link in (("pcap", "raw"), ("pcap", "ethernet"), ("pcapng", "raw")):
        _, pcap, keys, _ = run_with_trace(tmp_path, LOSSY, name=f"{fmt}-{link}", format=fmt, link_type=link)
        head = pcap.read_bytes()[:4]
        assert head == (b"\xd4\xc3\xb2\xa1" if fmt == "pcap" else b"\x0a\x0d\x0d\x0a")
        check = verify_trace(pcap, keys)
        assert check.rc == 0, check.out
        assert ("eth" in check.protocols()) == (link == "ethernet")


def test_scenario_trace_block_and_cli_override(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    data = scenario_dict(trace={"pcap": "from-file.pcapng", "keys": "from-file.json", "epoch": 1_800_000_000,
                                "format": "pcap"})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path)]) == 0
    assert (tmp_path / "from-file.pcapng").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"
    assert json.loads((tmp_path / "from-file.json").read_text())["ikev2"]
    caps = dissect.read(tmp_path / "from-file.pcapng")
    assert int(caps[0].time) == 1_800_000_000  # t = 0 at the configured epoch
    assert main(["run", str(path), "--pcap", "flag.pcapng"]) == 0
    assert (tmp_path / "flag.pcapng").exists()
    assert "-> flag.pcapng" in capsys.readouterr().err


@pytest.mark.parametrize(("trace", "field", "says"), [
    ({"epoch": "yesterday"}, "trace.epoch", "ISO 8601"),
    ({"epoch": "2024-01-01T00:00:00"}, "trace.epoch", "time zone"),
    ({"format": "erf"}, "trace.format", "'erf' is not allowed; allowed: pcapng"),
    ({"pcap": "x.pcap", "colour": "red"}, "trace.colour", "allowed: pcap, keys, format"),
    ({"esp": {"first": -1}}, "trace.esp.first", "greater than or equal to 0"),
    ({"esp": "sometimes"}, "trace.esp", "expected {first: N, last: N} or all"),
    ({"undecryptable": "ignore"}, "trace.undecryptable", "'ignore' is not allowed; allowed: mark"),
])
def test_bad_trace_block_is_one_clear_error(tmp_path, capsys, trace, field, says) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(trace=trace)))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}: {field}" in err and says in err


def test_unwritable_trace_paths_are_refused_before_the_run(tmp_path, capsys) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(trace={"keys": str(tmp_path / "no" / "k.json")})))
    assert main(["run", str(path)]) == 2
    assert f"{path}: trace.keys: cannot write" in capsys.readouterr().err
    assert main(["run", str(LOSSY), "--pcap", str(tmp_path / "missing" / "x.pcap")]) == 2
    assert "--pcap: cannot write" in capsys.readouterr().err
    assert main(["run", str(LOSSY), "--pcap", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


# --- algorithms Wireshark 4.0 cannot decrypt ----------------------------------------------------

GM = {"ike": {"proposals": ["sm4-sm3-modp2048"]}, "child": {"proposals": ["chacha20poly1305"]}}


def test_undecryptable_sas_are_marked_and_left_out_of_the_keys_file(tmp_path) -> None:
    result, pcap, _, doc = run_with_trace(tmp_path, scenario_dict(GM, GM))
    assert result.status("A") == "ipsec_sa_established"
    assert doc["ikev2"] == [] and doc["esp"] == []
    kinds = [(u["kind"], u["algorithm"]) for u in doc["undecryptable"]]
    assert kinds == [("ikev2", "sm4"), ("esp", "chacha20poly1305"), ("esp", "chacha20poly1305")]
    caps = dissect.read(pcap)
    marked = [c for c in caps if any("NOT decryptable in Wireshark" in x for x in c.comments)]
    assert len(marked) == 2  # the two IKE_AUTH messages, encrypted with SM4 / HMAC-SM3
    check = verify_trace(pcap)  # still a valid capture: no malformed frame
    assert check.rc == 0, check.out


def test_undecryptable_sas_can_be_refused(tmp_path, capsys) -> None:
    path = tmp_path / "gm.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(GM, GM, trace={"undecryptable": "refuse"})))
    pcap = tmp_path / "gm.pcapng"
    assert main(["run", str(path), "--pcap", str(pcap)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}: peers.A.ike.proposals[0]: the IKE SA" in err and "sm4 is not in Wireshark" in err
    assert not pcap.exists()


def test_undecryptable_esp_only_names_the_child_proposal(tmp_path, capsys) -> None:
    child = {"child": {"proposals": ["aes128-sha256", "aes128-sha256_96"]}}
    other = {"child": {"proposals": ["aes128-sha256_96"]}}
    path = tmp_path / "esp.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(child, other, trace={"undecryptable": "refuse"})))
    assert main(["run", str(path), "--keys", str(tmp_path / "k.json")]) == 2
    assert f"{path}: peers.A.child.proposals[1]: the ESP SA" in capsys.readouterr().err


def test_a_failing_write_is_one_clear_error(tmp_path, monkeypatch, capsys) -> None:
    from ipsecsim.trace import pcap as pcap_module

    def refuse(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(pcap_module, "write", refuse)
    target = tmp_path / "x.pcapng"
    assert main(["run", str(LOSSY), "--pcap", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"ipsecsim: error: {target}: cannot write the packet trace: Permission denied\n"


def test_json_schema_describes_the_trace_block(capsys) -> None:
    import jsonschema
    assert main(["schema"]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    ok = [{"esp": "all"}, {"esp": {"first": 3, "last": 0}}, {"epoch": 1_700_000_000},
          {"epoch": "2024-01-01T00:00:00Z", "format": "pcap", "link_type": "raw", "lost": "omit"}]
    for trace in ok:
        assert not list(validator.iter_errors(scenario_dict(trace=trace))), trace
    for trace in [{"esp": "some"}, {"format": "erf"}, {"colour": 1}]:
        assert list(validator.iter_errors(scenario_dict(trace=trace))), trace
    walkthrough = yaml.safe_load((SCENARIOS / "ikev2-wireshark-walkthrough.yaml").read_text())
    assert not list(validator.iter_errors(walkthrough))


def test_a_scenario_without_a_trace_block_writes_as_an_empty_one(tmp_path) -> None:
    """No ``trace:`` block means the documented defaults (docs/packets.md: pcapng, Ethernet, epoch 2024-01-01,
    lost datagrams included, the first and last 10 ESP packets, undecryptable marked): the same
    options as an empty block, with the CLI paths on top."""
    from ipsecsim.config.capture import TraceConfig
    from ipsecsim.trace.options import TraceOptions
    pcap, keys = tmp_path / "t.pcapng", tmp_path / "t.json"
    none = TraceOptions.build(None, pcap, keys)
    assert none == TraceOptions.build(TraceConfig.model_validate({}), pcap, keys)
    assert (none.format, none.link_type, none.epoch, none.lost, none.esp_first, none.esp_last, none.undecryptable) \
        == ("pcapng", "ethernet", 1704067200.0, "include", 10, 10, "mark")
    assert TraceOptions.build(None) == TraceOptions()
