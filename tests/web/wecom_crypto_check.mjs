// The independent side of the WeCom conformance test: Tencent's npm package @wecom/crypto checks what
// refundbot produced. JSON lines in:
//   {"op": "open", "token", "aes_key", "timestamp", "nonce", "encrypt", "signature"}
//     -> {"signature_ok": bool, "message", "id"}   (decrypted by @wecom/crypto)
//   {"op": "seal", "token", "aes_key", "id", "message", "timestamp", "nonce"}
//     -> {"encrypt", "signature"}                    (encrypted by @wecom/crypto, for refundbot to open)
// @wecom/crypto does not check the receive id: the caller compares "id" itself.
import { createInterface } from 'node:readline';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const q = JSON.parse(line);
  let out;
  try {
    if (q.op === 'open') {
      const { message, id } = decrypt(q.aes_key, q.encrypt);
      out = { signature_ok: getSignature(q.token, q.timestamp, q.nonce, q.encrypt) === q.signature, message, id };
    } else {
      const enc = encrypt(q.aes_key, q.message, q.id);
      out = { encrypt: enc, signature: getSignature(q.token, q.timestamp, q.nonce, enc) };
    }
  } catch (e) {
    out = { error: String(e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
