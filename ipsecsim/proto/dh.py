"""Diffie-Hellman and ECDH key exchange for every IKE DH group in the transform registry.

Models the "Key Exchange Data" of the IKEv2 KE payload (RFC 7296 3.4) and the IKEv1 KE
payload (RFC 2409 5), and the shared secret g^ir that feeds SKEYSEED / SKEYID:

* MODP groups 1, 2 (RFC 2409 6.1, 6.2), 5, 14-18 (RFC 3526) and the prime-order-subgroup
  groups 22-24 (RFC 5114 2.1-2.3), computed with GMP (gmpy2): g^x from a fixed-base table
  per group, y^x with ``gmpy2.powmod``. Both give exactly the integers Python's ``pow`` gives,
  g^x 10-35 times and y^x about 6 times faster (benchmarks/bench_dh.py). Public values and shared
  secrets are left-padded with zeros to the length of the prime (RFC 7296 2.14 / 3.4). Both
  peers of a simulated exchange run in one process: the first computes y^x as g^(x * x_peer)
  from the table, the second takes that secret (the same number: see ``_SECRETS``).
* ECP groups 19-21 (RFC 5903), 25-26 (RFC 5114 2.6-2.7) and Brainpool 27-30 (RFC 6954):
  public value x | y without the 0x04 prefix, shared secret the x coordinate only
  (RFC 5903 section 7; RFC 6954 section 3 uses the same encoding).
* Curve25519 / Curve448, groups 31 and 32 (RFC 8031).

Sans-IO and deterministic: every private value is drawn from the ``random.Random`` passed in
by the caller. This is a simulator: the keys are reproducible, deliberately not secure.

``model=True`` (``ipsecsim run --crypto model``) makes the same draws and the same decisions
without the arithmetic: the private value is drawn exactly as above, the public value is a
SHAKE-256 tag of (group, private value) of the group's length, and the shared secret a
SHAKE-256 tag of (group, both public values in sorted order) of the real secret's length. Both
sides therefore agree on the secret exactly when they use the same group, as with real DH; a
KE payload of another group's length is refused as before (INVALID_KE_PAYLOAD happens where it
did). Message sizes are unchanged; the keys, and so every byte derived from them, differ.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Final

import gmpy2
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519


class DhError(ValueError):
    """An unknown or unsupported group, or an invalid peer public value."""


@dataclass(frozen=True, slots=True)
class DhKey:
    """One side's ephemeral DH key pair.

    ``private`` is an ``int`` exponent for MODP groups and a ``cryptography`` private key
    object for the elliptic-curve groups; ``public`` is the KE payload's Key Exchange Data
    exactly as sent on the wire.
    """

    group: int
    private: object = field(repr=False)
    public: bytes
    model: bool = False
    """Made by ``generate(..., model=True)``: tags instead of group arithmetic."""


def _powmod(base: int, exp: int, mod: int) -> int:
    """``pow(base, exp, mod)`` for a positive ``exp``, computed by GMP's mpz_powm.

    Exact integer arithmetic, so the result is the very integer ``pow`` returns (the tests
    check this over random exponents in every MODP group), only faster: CPython's ``pow`` is
    most of the run time of a long simulation with PFS rekeys (benchmarks/bench_dh.py).
    """
    return int(gmpy2.powmod(base, exp, mod))


def _hex(text: str) -> int:
    """An integer from RFC-style hex text (whitespace ignored)."""
    return int("".join(text.split()), 16)


# --- MODP primes ------------------------------------------------------------------------
# Groups 1, 2: RFC 2409 6.1 / 6.2; groups 5, 14-18: RFC 3526 sections 2-7. All have the
# form p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k) and generator 2.

# Group 1: 768-bit MODP, RFC 2409 6.1 (k = 149686).
_P1 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A63A3620 FFFFFFFF FFFFFFFF
""")

# Group 2: 1024-bit MODP, RFC 2409 6.2 (k = 129093).
_P2 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381 FFFFFFFF FFFFFFFF
""")

# Group 5: 1536-bit MODP, RFC 3526 section 2 (k = 741804).
_P5 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF
""")

# Group 14: 2048-bit MODP, RFC 3526 section 3 (k = 124476).
_P14 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AACAA68 FFFFFFFF FFFFFFFF
""")

# Group 15: 3072-bit MODP, RFC 3526 section 4 (k = 1690314).
_P15 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33
    A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864
    D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2
    08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF
""")

# Group 16: 4096-bit MODP, RFC 3526 section 5 (k = 240904).
_P16 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33
    A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864
    D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2
    08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8
    DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2
    233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199 FFFFFFFF FFFFFFFF
""")

# Group 17: 6144-bit MODP, RFC 3526 section 6 (k = 929484).
_P17 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33
    A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864
    D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2
    08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8
    DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2
    233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34028492 36C3FAB4 D27C7026
    C1D4DCB2 602646DE C9751E76 3DBA37BD F8FF9406 AD9E530E E5DB382F 413001AE
    B06A53ED 9027D831 179727B0 865A8918 DA3EDBEB CF9B14ED 44CE6CBA CED4BB1B
    DB7F1447 E6CC254B 33205151 2BD7AF42 6FB8F401 378CD2BF 5983CA01 C64B92EC
    F032EA15 D1721D03 F482D7CE 6E74FEF6 D55E702F 46980C82 B5A84031 900B1C9E
    59E7C97F BEC7E8F3 23A97A7E 36CC88BE 0F1D45B7 FF585AC5 4BD407B2 2B4154AA
    CC8F6D7E BF48E1D8 14CC5ED2 0F8037E0 A79715EE F29BE328 06A1D58B B7C5DA76
    F550AA3D 8A1FBFF0 EB19CCB1 A313D55C DA56C9EC 2EF29632 387FE8D7 6E3C0468
    043E8F66 3F4860EE 12BF2D5B 0B7474D6 E694F91E 6DCC4024 FFFFFFFF FFFFFFFF
""")

# Group 18: 8192-bit MODP, RFC 3526 section 7 (k = 4743158).
_P18 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74
    020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437
    4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05
    98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718
    3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D 04507A33
    A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
    ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864
    D8760273 3EC86A64 521F2B18 177B200C BBE11757 7A615D6C 770988C0 BAD946E2
    08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
    88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8
    DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 287C5947 4E6BC05D 99B2964F A090C3A2
    233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
    93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34028492 36C3FAB4 D27C7026
    C1D4DCB2 602646DE C9751E76 3DBA37BD F8FF9406 AD9E530E E5DB382F 413001AE
    B06A53ED 9027D831 179727B0 865A8918 DA3EDBEB CF9B14ED 44CE6CBA CED4BB1B
    DB7F1447 E6CC254B 33205151 2BD7AF42 6FB8F401 378CD2BF 5983CA01 C64B92EC
    F032EA15 D1721D03 F482D7CE 6E74FEF6 D55E702F 46980C82 B5A84031 900B1C9E
    59E7C97F BEC7E8F3 23A97A7E 36CC88BE 0F1D45B7 FF585AC5 4BD407B2 2B4154AA
    CC8F6D7E BF48E1D8 14CC5ED2 0F8037E0 A79715EE F29BE328 06A1D58B B7C5DA76
    F550AA3D 8A1FBFF0 EB19CCB1 A313D55C DA56C9EC 2EF29632 387FE8D7 6E3C0468
    043E8F66 3F4860EE 12BF2D5B 0B7474D6 E694F91E 6DBE1159 74A3926F 12FEE5E4
    38777CB6 A932DF8C D8BEC4D0 73B931BA 3BC832B6 8D9DD300 741FA7BF 8AFC47ED
    2576F693 6BA42466 3AAB639C 5AE4F568 3423B474 2BF1C978 238F16CB E39D652D
    E3FDB8BE FC848AD9 22222E04 A4037C07 13EB57A8 1A23F0C7 3473FC64 6CEA306B
    4BCBC886 2F8385DD FA9D4B7F A2C087E8 79683303 ED5BDD3A 062B3CF5 B3A278A6
    6D2A13F8 3F44F82D DF310EE0 74AB6A36 4597E899 A0255DC1 64F31CC5 0846851D
    F9AB4819 5DED7EA1 B1D510BD 7EE74D73 FAF36BC3 1ECFA268 359046F4 EB879F92
    4009438B 481C6CD7 889A002E D5EE382B C9190DA6 FC026E47 9558E447 5677E9AA
    9E3050E2 765694DF C81F56E8 80B96E71 60C980DD 98EDD3DF FFFFFFFF FFFFFFFF
""")

# --- RFC 5114 groups 22-24: generators g of prime order q (not 2), so g^x lies in a small
# subgroup and the exponent x is drawn from [1, q-1].

# Group 22: 1024-bit MODP with 160-bit prime order subgroup, RFC 5114 2.1.
_P22 = _hex("""
    B10B8F96 A080E01D DE92DE5E AE5D54EC 52C99FBC FB06A3C6 9A6A9DCA 52D23B61
    6073E286 75A23D18 9838EF1E 2EE652C0 13ECB4AE A9061123 24975C3C D49B83BF
    ACCBDD7D 90C4BD70 98488E9C 219A7372 4EFFD6FA E5644738 FAA31A4F F55BCCC0
    A151AF5F 0DC8B4BD 45BF37DF 365C1A65 E68CFDA7 6D4DA708 DF1FB2BC 2E4A4371
""")

_G22 = _hex("""
    A4D1CBD5 C3FD3412 6765A442 EFB99905 F8104DD2 58AC507F D6406CFF 14266D31
    266FEA1E 5C41564B 777E690F 5504F213 160217B4 B01B886A 5E91547F 9E2749F4
    D7FBD7D3 B9A92EE1 909D0D22 63F80A76 A6A24C08 7A091F53 1DBF0A01 69B6A28A
    D662A4D1 8E73AFA3 2D779D59 18D08BC8 858F4DCE F97C2A24 855E6EEB 22B3B2E5
""")

_Q22 = _hex("""
    F518AA87 81A8DF27 8ABA4E7D 64B7CB9D 49462353
""")

# Group 23: 2048-bit MODP with 224-bit prime order subgroup, RFC 5114 2.2.
_P23 = _hex("""
    AD107E1E 9123A9D0 D660FAA7 9559C51F A20D64E5 683B9FD1 B54B1597 B61D0A75
    E6FA141D F95A56DB AF9A3C40 7BA1DF15 EB3D688A 309C180E 1DE6B85A 1274A0A6
    6D3F8152 AD6AC212 9037C9ED EFDA4DF8 D91E8FEF 55B7394B 7AD5B7D0 B6C12207
    C9F98D11 ED34DBF6 C6BA0B2C 8BBC27BE 6A00E0A0 B9C49708 B3BF8A31 70918836
    81286130 BC8985DB 1602E714 415D9330 278273C7 DE31EFDC 7310F712 1FD5A074
    15987D9A DC0A486D CDF93ACC 44328387 315D75E1 98C641A4 80CD86A1 B9E587E8
    BE60E69C C928B2B9 C52172E4 13042E9B 23F10B0E 16E79763 C9B53DCF 4BA80A29
    E3FB73C1 6B8E75B9 7EF363E2 FFA31F71 CF9DE538 4E71B81C 0AC4DFFE 0C10E64F
""")

_G23 = _hex("""
    AC4032EF 4F2D9AE3 9DF30B5C 8FFDAC50 6CDEBE7B 89998CAF 74866A08 CFE4FFE3
    A6824A4E 10B9A6F0 DD921F01 A70C4AFA AB739D77 00C29F52 C57DB17C 620A8652
    BE5E9001 A8D66AD7 C1766910 1999024A F4D02727 5AC1348B B8A762D0 521BC98A
    E2471504 22EA1ED4 09939D54 DA7460CD B5F6C6B2 50717CBE F180EB34 118E98D1
    19529A45 D6F83456 6E3025E3 16A330EF BB77A86F 0C1AB15B 051AE3D4 28C8F8AC
    B70A8137 150B8EEB 10E183ED D19963DD D9E263E4 770589EF 6AA21E7F 5F2FF381
    B539CCE3 409D13CD 566AFBB4 8D6C0191 81E1BCFE 94B30269 EDFE72FE 9B6AA4BD
    7B5A0F1C 71CFFF4C 19C418E1 F6EC0179 81BC087F 2A7065B3 84B890D3 191F2BFA
""")

_Q23 = _hex("""
    801C0D34 C58D93FE 99717710 1F80535A 4738CEBC BF389A99 B36371EB
""")

# Group 24: 2048-bit MODP with 256-bit prime order subgroup, RFC 5114 2.3.
_P24 = _hex("""
    87A8E61D B4B6663C FFBBD19C 65195999 8CEEF608 660DD0F2 5D2CEED4 435E3B00
    E00DF8F1 D61957D4 FAF7DF45 61B2AA30 16C3D911 34096FAA 3BF4296D 830E9A7C
    209E0C64 97517ABD 5A8A9D30 6BCF67ED 91F9E672 5B4758C0 22E0B1EF 4275BF7B
    6C5BFC11 D45F9088 B941F54E B1E59BB8 BC39A0BF 12307F5C 4FDB70C5 81B23F76
    B63ACAE1 CAA6B790 2D525267 35488A0E F13C6D9A 51BFA4AB 3AD83477 96524D8E
    F6A167B5 A41825D9 67E144E5 14056425 1CCACB83 E6B486F6 B3CA3F79 71506026
    C0B857F6 89962856 DED4010A BD0BE621 C3A3960A 54E710C3 75F26375 D7014103
    A4B54330 C198AF12 6116D227 6E11715F 693877FA D7EF09CA DB094AE9 1E1A1597
""")

_G24 = _hex("""
    3FB32C9B 73134D0B 2E775066 60EDBD48 4CA7B18F 21EF2054 07F4793A 1A0BA125
    10DBC150 77BE463F FF4FED4A AC0BB555 BE3A6C1B 0C6B47B1 BC3773BF 7E8C6F62
    901228F8 C28CBB18 A55AE313 41000A65 0196F931 C77A57F2 DDF463E5 E9EC144B
    777DE62A AAB8A862 8AC376D2 82D6ED38 64E67982 428EBC83 1D14348F 6F2F9193
    B5045AF2 767164E1 DFC967C1 FB3F2E55 A4BD1BFF E83B9C80 D052B985 D182EA0A
    DB2A3B73 13D3FE14 C8484B1E 052588B9 B7D2BBD2 DF016199 ECD06E15 57CD0915
    B3353BBB 64E0EC37 7FD02837 0DF92B52 C7891428 CDC67EB6 184B523D 1DB246C3
    2F630784 90F00EF8 D647D148 D4795451 5E2327CF EF98C582 664B4C0F 6CC41659
""")

_Q24 = _hex("""
    8CF83642 A709A097 B4479976 40129DA2 99B1A47D 1EB3750B A308B0FE 64F5FBD3
""")


@dataclass(frozen=True, slots=True)
class _Modp:
    p: int
    g: int
    q: int | None  # prime order of the subgroup g generates, when it is not (p-1)/2

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8


_MODP: Final[dict[int, _Modp]] = {
    1: _Modp(_P1, 2, None),
    2: _Modp(_P2, 2, None),
    5: _Modp(_P5, 2, None),
    14: _Modp(_P14, 2, None),
    15: _Modp(_P15, 2, None),
    16: _Modp(_P16, 2, None),
    17: _Modp(_P17, 2, None),
    18: _Modp(_P18, 2, None),
    22: _Modp(_P22, _G22, _Q22),
    23: _Modp(_P23, _G23, _Q23),
    24: _Modp(_P24, _G24, _Q24),
}

# strongSwan draws "reduced" exponents for the safe-prime MODP groups: 256 random bits rather
# than a full-length exponent (its modp_diffie_hellman exponent_len). We do the same for
# groups 1, 2, 5 and 14-18, which keeps the simulator fast even for the 8192-bit group.
_MODP_EXPONENT_BITS: Final = 256


class _FixedBase:
    """g^x mod p for one fixed g, by table look-up: the key generation half of MODP DH.

    Fixed-base exponentiation with a full table per window (Brickell, Gordon, McCurley and
    Wilson's fixed-base idea, HAC 14.6.3): with x = sum of d_i * 2^(w*i), 0 <= d_i < 2^w,
    g^x = product of T[i][d_i] where T[i][d] = g^(d * 2^(w*i)) mod p. That is one modular
    multiplication per w-bit window (32 for a 256-bit exponent and w = 8, 43 for w = 6)
    instead of the ~256 squarings of a general exponentiation: about 5-8 times faster than
    ``gmpy2.powmod`` and exactly the same integer. The table costs 2^w - 1 multiplications per
    row once per group and process, and 2^w numbers the size of p per row; ``grow`` adds rows
    for longer exponents (the 512-bit products of ``_modp_shared``: 64 rows of 256 for w = 8,
    6.3 MB for the 3072-bit group 15, built in ~40 ms). w = 8 up to 4096-bit primes (a PFS
    rekey with MODP-3072: 128 multiplications instead of 172); w = 6 above (the 8192-bit group
    18: 5.6 MB instead of 16.8).
    """

    WINDOW: Final = 8
    NARROW: Final = 6
    """The window for primes of more than 4096 bits (a smaller table)."""

    __slots__ = ("base", "bits", "p", "rows", "window")

    def __init__(self, g: int, p: int, bits: int) -> None:
        self.window = self.WINDOW if p.bit_length() <= 4096 else self.NARROW
        self.p = gmpy2.mpz(p)
        self.bits = 0  # exponents up to this many bits use the table
        self.base = gmpy2.mpz(g)  # g^(2^(w*i)) for the next row i
        self.rows: list[list[Any]] = []  # gmpy2.mpz
        self.grow(bits)

    _growing = threading.Lock()
    """One row is added at a time, whatever the threads (runs of a sweep in threads share the
    tables): a row is appended whole, and ``bits`` raised after it."""

    def grow(self, bits: int) -> None:
        """Cover exponents up to ``bits`` bits (rows are only ever added)."""
        size = 1 << self.window
        with self._growing:
            while len(self.rows) * self.window < bits:
                base = self.base
                row = [gmpy2.mpz(1)]
                for _ in range(size - 1):
                    row.append(row[-1] * base % self.p)
                self.rows.append(row)
                self.base = row[-1] * base % self.p  # g^((2^w - 1) * 2^(w*i)) * g^(2^(w*i))
            self.bits = max(self.bits, bits)

    def pow(self, x: int) -> int:
        """g^x mod p for 0 <= x < 2^bits."""
        if not 0 <= x < 1 << self.bits:
            raise ValueError(f"exponent of {x.bit_length()} bits: the table covers {self.bits}")
        mask = (1 << self.window) - 1
        acc = gmpy2.mpz(1)
        for row in self.rows:
            if not x:
                break
            digit = x & mask
            if digit:
                acc = acc * row[digit] % self.p
            x >>= self.window
        return int(acc)


# One table per MODP group, built the first time a key of that group is generated.
_FIXED_BASE: dict[int, _FixedBase] = {}


def _modp_public(group: int, x: int, bits: int = _MODP_EXPONENT_BITS) -> int:
    """g^x mod p for a private exponent of ``group`` (256 bits at most: see ``generate``), or
    for an exponent of up to ``bits`` bits (the table grows to them)."""
    table = _FIXED_BASE.get(group)
    if table is None:
        grp = _MODP[group]
        table = _FIXED_BASE[group] = _FixedBase(grp.g, grp.p, _MODP_EXPONENT_BITS)
    n = x.bit_length()
    if n > table.bits:
        if n > bits:  # not from generate(): no table for it
            return _powmod(_MODP[group].g, x, _MODP[group].p)
        table.grow(bits)
    return table.pow(x)


# --- Elliptic curves ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Curve:
    name: str  # SEC 2 / RFC 5639 curve name
    field_bytes: int  # length of one coordinate on the wire
    n: int  # order of the base point

    def curve(self) -> ec.EllipticCurve | None:
        """The ``cryptography`` curve object, or None if the installed version lacks it."""
        cls = getattr(ec, self.name.upper().replace("BRAINPOOLP", "BrainpoolP"), None)
        return cls() if cls is not None else None


# Base point orders n: SEC 2 v2 / FIPS 186-4 D.1.2 for the NIST curves (also RFC 5903
# section 3 and RFC 5114 2.6-2.7), RFC 5639 section 3 for Brainpool.
# Groups 25 and 26 use the RFC 5903 section 7 encoding as well (x-only shared secret):
# RFC 5114 referred to RFC 4753, whose x | y shared secret RFC 5903 replaced, and strongSwan
# computes x only for every ECP group (its default ecp_x_coordinate_only = yes).
_ECP: Final[dict[int, _Curve]] = {
    19: _Curve("secp256r1", 32, _hex("""
        FFFFFFFF 00000000 FFFFFFFF FFFFFFFF BCE6FAAD A7179E84 F3B9CAC2 FC632551""")),
    20: _Curve("secp384r1", 48, _hex("""
        FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF C7634D81 F4372DDF
        581A0DB2 48B0A77A ECEC196A CCC52973""")),
    21: _Curve("secp521r1", 66, _hex("""
        01FF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFA
        51868783 BF2F966B 7FCC0148 F709A5D0 3BB5C9B8 899C47AE BB6FB71E 91386409""")),
    25: _Curve("secp192r1", 24, _hex("""
        FFFFFFFF FFFFFFFF FFFFFFFF 99DEF836 146BC9B1 B4D22831""")),
    26: _Curve("secp224r1", 28, _hex("""
        FFFFFFFF FFFFFFFF FFFFFFFF FFFF16A2 E0B8F03E 13DD2945 5C5C2A3D""")),
    # Group 27, brainpoolP224r1: cryptography 48 has no BrainpoolP224R1 (only P256R1, P384R1
    # and P512R1), so generate() raises DhError for it; public_length() still answers.
    27: _Curve("brainpoolP224r1", 28, _hex("""
        D7C134AA 26436686 2A183025 75D0FB98 D116BC4B 6DDEBCA3 A5A7939F""")),
    28: _Curve("brainpoolP256r1", 32, _hex("""
        A9FB57DB A1EEA9BC 3E660A90 9D838D71 8C397AA3 B561A6F7 901E0E82 974856A7""")),
    29: _Curve("brainpoolP384r1", 48, _hex("""
        8CB91E82 A3386D28 0F5D6F7E 50E641DF 152F7109 ED5456B3 1F166E6C AC0425A7
        CF3AB6AF 6B7FC310 3B883202 E9046565""")),
    30: _Curve("brainpoolP512r1", 64, _hex("""
        AADD9DB8 DBE9C48B 3FD4E6AE 33C9FC07 CB308DB3 B3C9D20E D6639CCA 70330870
        553E5C41 4CA92619 41866119 7FAC1047 1DB1D381 085DDADD B5879682 9CA90069""")),
}

# RFC 8031 section 2: the KE data is the raw 32 / 56 octet u-coordinate.
_MONTGOMERY: Final[dict[int, int]] = {31: 32, 32: 56}


def public_length(group: int) -> int:
    """Octets of Key Exchange Data for ``group`` (RFC 7296 3.4, RFC 5903 7, RFC 8031 2)."""
    if group in _MODP:
        return _MODP[group].size
    if group in _ECP:
        return 2 * _ECP[group].field_bytes
    if group in _MONTGOMERY:
        return _MONTGOMERY[group]
    raise DhError(f"unknown DH group {group}")


def is_supported(group: int) -> bool:
    """Whether ``generate`` works for ``group`` with the installed ``cryptography``."""
    if group in _MODP or group in _MONTGOMERY:
        return True
    return group in _ECP and _ECP[group].curve() is not None


def generate(group: int, rng: random.Random, model: bool = False) -> DhKey:
    """A fresh key pair for ``group`` drawn from ``rng`` (deterministic for a given seed);
    ``model``: the same draw, public value a tag (module docstring)."""
    if group in _MODP:
        grp = _MODP[group]
        if grp.q is not None:
            # RFC 5114 groups: x uniform in [1, q-1] so g^x stays in the order-q subgroup.
            x = rng.randrange(1, grp.q)
        else:
            x = 0
            while x < 2:  # skip the degenerate exponents 0 and 1
                x = rng.getrandbits(_MODP_EXPONENT_BITS)
        if model:
            return _model_key(group, x)
        public = _modp_public(group, x).to_bytes(grp.size, "big")
        _remember(_MINTED, (group, public), x)
        return DhKey(group, x, public)
    if group in _ECP:
        spec = _ECP[group]
        curve = spec.curve()
        if curve is None:
            raise DhError(f"group {group} ({spec.name}) is not supported by the installed cryptography")
        # 64 extra bits make the reduction mod n-1 practically unbiased (FIPS 186-4 B.4.1).
        d = 1 + rng.getrandbits(spec.n.bit_length() + 64) % (spec.n - 1)
        if model:
            return _model_key(group, d)
        priv = ec.derive_private_key(d, curve)
        nums = priv.public_key().public_numbers()
        # RFC 5903 section 7: x | y, each left-padded to the field size, no 0x04 prefix.
        public = nums.x.to_bytes(spec.field_bytes, "big") + nums.y.to_bytes(spec.field_bytes, "big")
        return DhKey(group, priv, public)
    if group in _MONTGOMERY:
        raw = rng.randbytes(_MONTGOMERY[group])
        if model:
            return _model_key(group, int.from_bytes(raw, "big"))
        if group == 31:
            k25519 = x25519.X25519PrivateKey.from_private_bytes(raw)
            return DhKey(group, k25519, k25519.public_key().public_bytes_raw())
        k448 = x448.X448PrivateKey.from_private_bytes(raw)
        return DhKey(group, k448, k448.public_key().public_bytes_raw())
    raise DhError(f"unknown DH group {group}")


def secret_length(group: int) -> int:
    """Octets of the shared secret g^ir: the prime's length (MODP), the field size (ECP, the x
    coordinate only), the key size (Curve25519 / Curve448)."""
    if group in _ECP:
        return _ECP[group].field_bytes
    return public_length(group)


def _model_key(group: int, private: int) -> DhKey:
    tag = hashlib.shake_256(b"ipsecsim model DH public|%d|%x" % (group, private)).digest(public_length(group))
    return DhKey(group, private, tag, model=True)


def _model_shared(key: DhKey, peer_public: bytes) -> bytes:
    low, high = sorted((key.public, peer_public))
    return hashlib.shake_256(b"ipsecsim model DH secret|%d|" % key.group + low + high).digest(secret_length(key.group))


def shared_secret(key: DhKey, peer_public: bytes) -> bytes:
    """g^ir from our ``key`` and the peer's Key Exchange Data; DhError if the peer's is bad."""
    group = key.group
    expected = public_length(group)
    if len(peer_public) != expected:
        # RFC 7296 3.4: the KE data length is fixed by the group (the length of p for MODP).
        raise DhError(f"group {group}: peer public value is {len(peer_public)} octets, expected {expected}")
    if key.model:
        return _model_shared(key, peer_public)
    if group in _MODP:
        return _modp_shared(group, key.private, peer_public, key.public)
    if group in _ECP:
        return _ecp_shared(group, key.private, peer_public)
    return _montgomery_shared(group, key.private, peer_public)


def _modp_shared(group: int, private: object, peer_public: bytes, public: bytes = b"") -> bytes:
    grp = _MODP[group]
    if not isinstance(private, int):
        raise DhError(f"group {group}: private value is not a MODP exponent")
    y = int.from_bytes(peer_public, "big")
    # RFC 6989 2.1: reject 0, 1 and p-1 (and anything >= p): they force a predictable g^ir.
    if not 1 < y < grp.p - 1:
        raise DhError(f"group {group}: peer public value out of range (1 < y < p-1)")
    # RFC 6989 2.2: for the RFC 5114 groups, whose p-1 has small factors besides q, also
    # check that y lies in the order-q subgroup.
    if grp.q is not None and _powmod(y, grp.q, grp.p) != 1:
        raise DhError(f"group {group}: peer public value is not in the prime-order subgroup")
    minted = _MINTED.get((group, public)) == private
    if minted:
        z = _SECRETS.pop((group, peer_public, public), None)
        if z is not None:
            return z
    peer_x = _MINTED.get((group, peer_public))
    if peer_x is not None and peer_x.bit_length() <= _MODP_EXPONENT_BITS:
        # the peer's key is generate()'s: y = g^peer_x, so y^x = g^(x * peer_x), one product of
        # table entries per window of the 512-bit exponent instead of ~256 squarings
        z = _modp_public(group, private * peer_x, 2 * _MODP_EXPONENT_BITS).to_bytes(grp.size, "big")
    else:
        z = _powmod(y, private, grp.p).to_bytes(grp.size, "big")
    if minted:
        _remember(_SECRETS, (group, public, peer_public), z)
    return z


# --- Shared secrets of keys this process made -----------------------------------------------
# Both peers of a simulated tunnel run in one process, and g^ir is one number: y_r^x_i is
# y_i^x_r is g^(x_i * x_r) when y_i = g^x_i and y_r = g^x_r. ``_MINTED`` holds the keys
# ``generate`` made (their public value and exponent, so y = g^x is known to hold). A peer
# public value found there is raised to our exponent as g^(x * x_peer), from the fixed-base
# table; ``_SECRETS`` keeps the secret a minted key computed against a peer's public value,
# under (group, its own public value, the peer's), and the other side, with a minted key whose
# public value is that peer's, takes it from there: a PFS rekey costs one table product, not
# two y^x. A hand-made key is always computed with its own exponent (against a minted peer
# value: as g^(x * x_peer)), and a secret it computes is kept for nobody. Both are bounded (the
# oldest entry goes first): a miss only costs the exponentiation.
_MEMO_SIZE: Final = 1024
_MINTED: dict[tuple[int, bytes], int] = {}
_SECRETS: dict[tuple[int, bytes, bytes], bytes] = {}


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    memo.pop(key, None)
    memo[key] = value
    while len(memo) > _MEMO_SIZE:
        del memo[next(iter(memo))]


def _ecp_shared(group: int, private: object, peer_public: bytes) -> bytes:
    spec = _ECP[group]
    curve = spec.curve()
    if curve is None or not isinstance(private, ec.EllipticCurvePrivateKey):
        raise DhError(f"group {group}: not an elliptic-curve key for {spec.name}")
    try:
        # RFC 6989 2.3: the point must lie on the curve; from_encoded_point checks that.
        peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + peer_public)
        z = private.exchange(ec.ECDH(), peer)
    except ValueError as exc:
        raise DhError(f"group {group}: invalid peer point: {exc}") from exc
    # RFC 5903 section 7: the shared secret is the x coordinate, padded to the field size.
    # (cryptography already returns it left-padded; the rjust only documents the rule.)
    return z.rjust(spec.field_bytes, b"\x00")


def _montgomery_shared(group: int, private: object, peer_public: bytes) -> bytes:
    try:
        if group == 31 and isinstance(private, x25519.X25519PrivateKey):
            z = private.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
        elif group == 32 and isinstance(private, x448.X448PrivateKey):
            z = private.exchange(x448.X448PublicKey.from_public_bytes(peer_public))
        else:
            raise TypeError(f"group {group}: not a Curve25519/Curve448 key")
    except (TypeError, ValueError) as exc:  # OpenSSL itself refuses an all-zero result
        raise DhError(f"group {group}: invalid key or peer public value: {exc}") from exc
    # RFC 8031 section 2.3: an all-zero shared secret (low-order peer point) MUST be rejected.
    if not any(z):
        raise DhError(f"group {group}: all-zero shared secret")
    return z
