"""Small helpers for columns stored encrypted (AES-256-GCM, the keyring of ``Tx``).

Reads accept a value still in clear (a row written before the column was encrypted and not yet
sealed by ``store.sealing``): what is not a ciphertext is returned as it is.
"""

from __future__ import annotations

from typing import Any

import orjson

from pocketping.crypto import PREFIX
from pocketping.store.db import Tx

_MARK = PREFIX + ":"


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_MARK)


def seal(tx: Tx, value: str | None) -> str | None:
    return None if value is None else tx.encrypt(value)


def unseal(tx: Tx, value: str | None) -> str | None:
    if value is None:
        return None
    return tx.decrypt(value) if is_sealed(value) else value


def seal_json(tx: Tx, value: Any) -> str:
    return tx.encrypt(orjson.dumps(value).decode())


def unseal_json(tx: Tx, value: str | None) -> Any:
    if value is None:
        return None
    return orjson.loads(tx.decrypt(value) if is_sealed(value) else value)
