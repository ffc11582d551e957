"""HMAC signatures for the callback URLs the tool hands to providers, so a callback cannot be moved to another
learner, activity or course. The key is derived from LTI_TOOL_SECRET_KEY per purpose."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


class CallbackSigner:
    def __init__(self, secret_key: str, purpose: str) -> None:
        self._key = hmac.new(secret_key.encode(), f"lti-tool callback signing: {purpose}".encode(),
                             hashlib.sha256).digest()

    def sign(self, values: Mapping[str, str]) -> str:
        message = "\n".join(f"{name}={values[name]}" for name in sorted(values))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, values: Mapping[str, str], signature: str) -> bool:
        return hmac.compare_digest(self.sign(values).encode(), signature.encode())
