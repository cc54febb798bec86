"""CREATE_CHILD_SA messages of a rekey survive the exact RFC 7296 encoding (with real SK
encryption), so packet traces of rekeys decode to what the cores exchanged."""

from __future__ import annotations

from factory import two_peers
from peerpair import PeerPair

from ipsecsim.proto.ikev2.message import Exchange, Notify
from ipsecsim.proto.ikev2.wire import decode, encode


def test_rekey_messages_round_trip_through_the_wire_format() -> None:
    a, b = two_peers({"ike": {"rekey_time": 200, "rand_time": 0, "life_time": 300},
                      "child": {"proposals": ["aes128-sha256-modp2048"], "rekey_time": 100, "rand_time": 0}},
                     {"child": {"proposals": ["aes128-sha256-modp2048"]}})
    pair = PeerPair(a, b, delay=0.01).run(150)
    known = [sa for ep in (pair["A"], pair["B"]) for sa in ep.engine.sas.values()]  # the old IKE SA goes at 200 s
    pair.run(250)
    msgs = [(who, d.message) for _, who, d in pair.sent if d.message.exchange is Exchange.CREATE_CHILD_SA]
    # CHILD rekeys at 100 s and 200 s, IKE rekey at 200 s: request and response each
    assert len(msgs) == 6
    known += [sa for ep in (pair["A"], pair["B"]) for sa in ep.engine.sas.values()]
    for _who, msg in msgs:
        sa = next(s for s in known if (s.spi_i, s.spi_r) == (msg.spi_i, msg.spi_r))
        keys = sa.sk(msg.initiator) if sa.keys is not None else None
        assert keys is not None
        back = decode(encode(msg, keys, bytes(16)), keys)
        assert back.payloads == msg.payloads
    rekey_sa = msgs[0][1].notify(Notify.REKEY_SA)
    assert rekey_sa is not None and rekey_sa.protocol == 3 and len(rekey_sa.spi) == 4
