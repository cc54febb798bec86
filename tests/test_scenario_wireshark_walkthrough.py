"""scenarios/ikev2-wireshark-walkthrough.yaml: the capture a teacher opens in Wireshark.

Expected frames, from the documents the scenario cites:
RFC 7296 1.2 / 3.10.1 (INVALID_KE_PAYLOAD carries the accepted group, big endian, and the
initiator retries with it), RFC 5903 (group 19 = ECP-256), RFC 3526 (group 14 = MODP-2048),
RFC 7296 2.1 (a lost request is retransmitted as the same message after the configured
timeout, 1 s here), RFC 5282 (AES-GCM-16 for the SK payload: no integrity transform, keys
of 32 + 4 octets of salt).
"""

from __future__ import annotations

import datetime

from conftest import SCENARIOS
from tracehelp import run_with_trace, verify_trace

from ipsecsim.cli import main
from ipsecsim.trace import dissect

WALKTHROUGH = SCENARIOS / "ikev2-wireshark-walkthrough.yaml"
EPOCH = datetime.datetime(2024, 6, 3, 9, 0, tzinfo=datetime.UTC).timestamp()


def test_walkthrough_frames_tell_the_story(tmp_path) -> None:
    result, pcap, keys, doc = run_with_trace(tmp_path, WALKTHROUGH)
    assert result.status("A") == result.status("B") == "ipsec_sa_established"
    caps = dissect.read(pcap)
    assert len(caps) == 7
    f = [dissect.ike(c.data) for c in caps]
    # 1-2: KE for ECP-256 refused; the notify names MODP-2048.
    assert f[0].exch_type == 34 and f[0]["IKEv2_KE"].group == 19
    assert dissect.payload_types(f[1]) == [41]
    assert f[1]["IKEv2_Notify"].type == 17 and bytes(f[1]["IKEv2_Notify"].notify) == (14).to_bytes(2, "big")
    # 3-4: the retry with MODP-2048 succeeds.
    assert f[2]["IKEv2_KE"].group == 14 and f[3]["IKEv2_KE"].group == 14
    # 5-6: IKE_AUTH lost while the link is down, retransmitted 1 s later as the same bytes.
    assert [x.exch_type for x in f[4:]] == [35, 35, 35]
    assert any("LOST: the link is down" in x for x in caps[4].comments)
    assert "retransmission 1" in caps[5].comments and caps[5].data == caps[4].data
    assert caps[5].time - caps[4].time == 1
    # Times are the simulated ones from the scenario's epoch.
    assert caps[0].time == int(EPOCH)
    # 7: the response decrypts; B presents @east.example.com and the ESP proposal.
    (entry,) = doc["ikev2"]
    assert (entry["enc_alg"], entry["integ_alg"], len(bytes.fromhex(entry["sk_ei"]))) == ("aes-gcm-16", "none", 36)
    inner = dissect.open_sk(caps[6].data, entry)
    assert bytes(inner["IKEv2_IDr"].ID) == b"east.example.com"
    trans = inner["IKEv2_SA"].prop.trans
    assert (trans.transform_id, trans.key_length) == (12, 128)  # ENCR_AES_CBC, 128-bit key
    check = verify_trace(pcap, keys)
    assert check.rc == 0 and check.count("IKEv2 SK") == (3, 3), check.out


def test_walkthrough_runs_from_the_cli_as_its_description_says(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(WALKTHROUGH), "--pcap", "walkthrough.pcapng", "--keys", "walkthrough.keys.json"]) == 0
    out = capsys.readouterr()
    assert "pcap: 7 packets (7 IKE; 1 lost on the way, captured at the sender) -> walkthrough.pcapng" in out.err
    assert "retrying with group 14" in out.out
    assert verify_trace(tmp_path / "walkthrough.pcapng", tmp_path / "walkthrough.keys.json").rc == 0
