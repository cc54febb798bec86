"""The INFORMATIONAL walk-throughs (scenarios/teach-ikev2-informational.yaml and
teach-ikev1-informational.yaml) as a teacher opens them in Wireshark: every frame decrypts
and shows what the RFCs say it carries.

IKEv2, RFC 7296: a liveness check is an INFORMATIONAL request with no payloads but SK
(2.4), answered by an empty response; a CHILD SA is deleted with a Delete payload, protocol
ESP (3), SPI size 4, naming the sender's inbound SPI, and the response carries the Delete for
the other half of the pair (1.4.1); an IKE SA is deleted with protocol IKE (1), SPI size 0,
and the response is empty (1.4.1, 3.11): here when the connection is deleted and recreated.
Message ids count up per request (2.2).
IKEv1, RFC 3706: R-U-THERE (36136) and R-U-THERE-ACK (36137) notifies with SPI = CKY-I | CKY-R
(16 octets) and a 4-octet sequence number the ACK echoes, the first with its top bit clear,
then +1; RFC 2408 3.15: a Delete names protocol ESP (3) with 4-octet SPIs or ISAKMP (1) with
the two cookies as its 16-octet SPI; RFC 2409 5.7: each INFORMATIONAL has its own message id.
"""

from __future__ import annotations

from conftest import SCENARIOS
from tracehelp import run_with_trace, tshark_fields, verify_trace

FIELDS = ["isakmp.exchangetype", "isakmp.flag_r", "isakmp.messageid", "isakmp.typepayload", "isakmp.delete.protoid",
          "isakmp.spisize", "isakmp.delete.spi", "isakmp.notify.msgtype", "isakmp.notify.data.dpd.are_you_there",
          "isakmp.notify.data.dpd.are_you_there_ack"]
SK, DELETE, HASH, NOTIFY_V1, DELETE_V1 = "46", "42", "8", "11", "12"


def rows(pcap, keys) -> list[dict[str, str]]:
    return [dict(zip(FIELDS, r, strict=True)) for r in tshark_fields(pcap, keys, FIELDS)]


def test_ikev2_informational_walkthrough(tmp_path) -> None:
    result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "teach-ikev2-informational.yaml")
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    info = [r for r in rows(pcap, keys) if r["isakmp.exchangetype"] == "37"]
    # 6 liveness checks, one CHILD SA delete, one IKE SA delete: 8 requests, 8 responses
    assert len(info) == 16
    requests = [r for r in info if r["isakmp.flag_r"] == "0"]
    assert [int(r["isakmp.messageid"], 16) for r in requests] == list(range(2, 10))
    empty = [r for r in info if r["isakmp.typepayload"] == SK]
    assert len(empty) == 6 + 6 + 1  # liveness requests and responses, the IKE delete's response
    cfg = next(e.fields for e in result.events if e.event == "child_sa_established" and e.peer == "A")
    child = [r for r in info if r["isakmp.delete.protoid"] == "3"]
    assert [(r["isakmp.flag_r"], r["isakmp.spisize"], r["isakmp.delete.spi"]) for r in child] == [
        ("0", "4", cfg["spi_in"]), ("1", "4", cfg["spi_out"])]
    (ike,) = [r for r in info if r["isakmp.delete.protoid"] == "1"]
    assert (ike["isakmp.flag_r"], ike["isakmp.spisize"], ike["isakmp.delete.spi"]) == ("0", "0", "")
    response = info[info.index(ike) + 1]
    assert (response["isakmp.flag_r"], response["isakmp.typepayload"]) == ("1", SK)
    assert check.count("IKEv2 SK") == (20, 20)  # two IKE_AUTH pairs (the recreated connection) + 16 INFORMATIONAL


def test_ikev1_informational_walkthrough(tmp_path) -> None:
    result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "teach-ikev1-informational.yaml")
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    info = [r for r in rows(pcap, keys) if r["isakmp.exchangetype"] == "5"]
    probes = [r for r in info if r["isakmp.notify.msgtype"] == "36136"]
    acks = [r for r in info if r["isakmp.notify.msgtype"] == "36137"]
    # strongSwan's check job every 30 s from the establishment, until the ISAKMP SA expires at
    # 240.03 s: 30.03 ... 210.03 s (the scenario file)
    assert len(probes) == len(acks) == 7
    seqs = [int(r["isakmp.notify.data.dpd.are_you_there"]) for r in probes]
    assert seqs[0] < 2**31 and seqs == [seqs[0] + i for i in range(7)]
    assert [int(r["isakmp.notify.data.dpd.are_you_there_ack"]) for r in acks] == seqs
    assert all(r["isakmp.typepayload"] == f"{HASH},{NOTIFY_V1}" and r["isakmp.spisize"] == "16"
               for r in probes + acks)
    (est,) = [e.fields for e in result.events if e.event == "child_sa_established" and e.peer == "A"]
    deletes = [r for r in info if r["isakmp.typepayload"] == f"{HASH},{DELETE_V1}"]
    cookies = est["spi_i"] + est["spi_r"]
    assert [(r["isakmp.delete.protoid"], r["isakmp.spisize"], r["isakmp.delete.spi"]) for r in deletes] == [
        ("3", "4", est["spi_in"]), ("3", "4", est["spi_out"]), ("1", "16", cookies), ("1", "16", cookies)]
    ids = [r["isakmp.messageid"] for r in info]
    assert len(set(ids)) == len(ids) and "0x00000000" not in ids
    assert check.count("IKEv1 encrypted") == (23, 23)  # main mode 5-6, quick mode 1-3, 18 INFORMATIONAL
