"""Seals and signatures: PDF sealing and validation (pyHanko), the seal CA, SM2, time stamps and key stores.

Importing the package sets one warnings filter, before any module of the project imports pyHanko (gateway, adapters
and benchmarks import this package first, from their own ``__init__``): cryptography 51 deprecates DSA and warns
whenever its DSA key types are named, and pyHanko (0.38) names them on import and when it meets a DSA signature
while validating. Left alone, that warning was printed on every zzgw command's stderr and in the gateway's log, and
says nothing a clerk or an operator can act on: zzgw never makes DSA keys, and a DSA signature it meets is judged as
any other. Only that one message is silenced; every other warning shows as before.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

warnings.filterwarnings("ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning)
