"""``--crypto model`` (proto/dh.py): the same draws and decisions as real key exchange, without
the arithmetic. Every shipped scenario gives the same events either way; the decisions that
depend on crypto (a PSK mismatch fails AUTH, a KE of the wrong group is refused, INVALID_KE)
still happen; a packet trace is refused."""

import json
import random

import pytest
from conftest import SCENARIOS, shipped_result

from ipsecsim import load_scenario, simulate
from ipsecsim.cli import main
from ipsecsim.proto import dh
from ipsecsim.proto.algorithms import DH_BY_GROUP
from ipsecsim.trace.jsonl import dumps

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
GROUPS = [g for g in sorted(DH_BY_GROUP) if dh.is_supported(g)]


def _comparable(events):
    """The events as JSON, except what is a function of key bytes: a message that does not
    decrypt with the receiver's key (an IKEv1 PSK mismatch) is ignored either way, but what the
    garbage it decrypts to looks like ("payload length 21706 does not fit") depends on the key."""
    out = []
    for e in events:
        d = json.loads(dumps(e))
        if d["event"] == "message_ignored" and d.get("reason", "").startswith("does not decrypt"):
            d["reason"] = d["reason"].split(" (")[0]
        out.append(d)
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_gives_the_same_events_with_the_crypto_model(path):
    """Events carry no key material: SPIs, nonces, cookies and message ids are draws from the
    peers' streams, which the model draws exactly as real key exchange does."""
    real = _comparable(shipped_result(path).events)
    model = simulate(load_scenario(path), crypto="model")
    assert model.crypto == "model"
    assert _comparable(model.events) == real


@pytest.mark.parametrize("group", GROUPS)
def test_model_keys_draw_the_same_numbers_and_agree_only_within_a_group(group):
    a_real, a_model = random.Random(5), random.Random(5)
    real = dh.generate(group, a_real)
    model = dh.generate(group, a_model, model=True)
    assert a_real.random() == a_model.random()  # the stream is where real DH left it
    assert len(model.public) == len(real.public) == dh.public_length(group)
    other = dh.generate(group, random.Random(6), model=True)
    secret = dh.shared_secret(model, other.public)
    assert secret == dh.shared_secret(other, model.public)
    assert len(secret) == len(dh.shared_secret(real, dh.generate(group, random.Random(6)).public))
    third = dh.generate(group, random.Random(7), model=True)
    assert dh.shared_secret(third, other.public) != secret


def test_a_ke_of_another_groups_length_is_refused_as_with_real_dh():
    """RFC 7296 3.4: the KE data length is fixed by the group."""
    a = dh.generate(14, random.Random(1), model=True)
    b = dh.generate(15, random.Random(2), model=True)
    with pytest.raises(dh.DhError, match="expected 256"):
        dh.shared_secret(a, b.public)


@pytest.mark.parametrize("name, event, fields", [
    # RFC 7296 2.15: the AUTH payload does not verify with the other PSK
    ("ikev2-psk-mismatch", "negotiation_failed", {"notify": "AUTHENTICATION_FAILED"}),
    # IKEv1 main mode: message 5 is encrypted with a key derived from the PSK (RFC 2409 5.4);
    # the responder cannot parse it (strongSwan: PAYLOAD_MALFORMED)
    ("ikev1-psk-mismatch", "negotiation_failed", {"notify": "PAYLOAD_MALFORMED"}),
    # RFC 7296 1.2: a KE of a group the responder does not want is answered INVALID_KE_PAYLOAD
    ("ikev2-dh-group-retry", "ke_group_retry", {"rejected": 19, "requested": 14}),
])
def test_crypto_decisions_still_happen(name, event, fields):
    r = simulate(load_scenario(SCENARIOS / f"{name}.yaml"), crypto="model")
    assert r.events_named(event, **fields)
    assert r.check().passed


@pytest.mark.parametrize("flags, needle", [
    (["--pcap", "x.pcap"], "--pcap: --crypto model derives keys from hashes"),
    (["--keys", "x.json"], "--keys: --crypto model derives keys from hashes"),
])
def test_model_refuses_a_packet_trace(capsys, tmp_path, flags, needle):
    flags = [f if not f.startswith("x.") else str(tmp_path / f) for f in flags]
    assert main(["run", str(SCENARIOS / "ikev2-basic.yaml"), "--crypto", "model", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
    assert not list(tmp_path.iterdir())


def test_model_refuses_a_scenario_trace_block(capsys, tmp_path):
    text = (SCENARIOS / "ikev2-basic.yaml").read_text()
    path = tmp_path / "traced.yaml"
    path.write_text(text + f"trace: {{pcap: {tmp_path / 'run.pcapng'}}}\n")
    assert main(["run", str(path), "--crypto", "model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: trace: --crypto model" in err


def test_the_summary_and_timeline_say_the_model_was_used(capsys):
    path = str(SCENARIOS / "ikev2-basic.yaml")
    assert main(["run", path, "--crypto", "model", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["crypto"] == "model"
    assert main(["run", path, "--json"]) == 0
    assert "crypto" not in json.loads(capsys.readouterr().out)  # a real run's summary is unchanged
    assert main(["run", path, "--crypto", "model"]) == 0
    assert "crypto model" in capsys.readouterr().out.splitlines()[0]
