#!/usr/bin/python3
"""Independent Standard Webhooks 1.0 vectors for StandardWebhookTests (Python's hmac, not the C# code under test).

Run: /usr/bin/python3 tests/TrainGuard.Server.Tests/Notifications/webhook_vectors.py
The printed lines are pasted into StandardWebhookTests.Independent_vectors.
"""
import base64
import hashlib
import hmac

# Two fixed 32-byte secrets (bytes 0..31 and 32..63), written the way `webhook add` prints them.
secrets = [bytes(range(32)), bytes(range(32, 64))]
msg_id = "msg_0192f0c1a2b34c5d8e9fa0b1c2d3e4f5"
timestamp = "1764064800"  # 2025-11-25T10:00:00Z
# A body with non-ASCII text and JSON escapes: the signature covers the UTF-8 bytes as sent.
body = '{"type":"alert.opened","timestamp":"2025-11-25T10:00:00.000000Z","data":{"reason":"intern7 \u00e9 <b>&"}}'.encode("utf-8")

for s in secrets:
    print("secret", "whsec_" + base64.b64encode(s).decode())
signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
sigs = ["v1," + base64.b64encode(hmac.new(s, signed, hashlib.sha256).digest()).decode() for s in secrets]
print("body_hex", body.hex())
print("signature", " ".join(sigs))
