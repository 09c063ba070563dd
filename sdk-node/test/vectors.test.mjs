// The signing and identity vectors shared with the Python SDK and the server
// (tests/contract/vectors.json): the Node SDK signs, verifies and hashes as they say.
import { test } from "node:test"
import assert from "node:assert/strict"

import { PocketPing, WebhookVerificationError, sign, userHash, verifyWebhook } from "@pocketping/sdk"

import { repoFile } from "./helpers.mjs"

const vectors = JSON.parse(repoFile("tests", "contract", "vectors.json"))

test("the vectors are there, with every outcome", () => {
  const results = new Set(vectors.verify.map((v) => v.result))
  assert.deepEqual([...results].sort(),
                   ["invalid_payload", "invalid_signature", "missing_signature", "stale_signature", "valid"])
  assert.ok(vectors.sign.length >= 3 && vectors.identity.length >= 3)
})

test("sign() gives the header of every sign vector", () => {
  for (const v of vectors.sign) {
    assert.equal(sign(v.secret, v.timestamp, v.body), v.header, v.header)
    assert.equal(sign(v.secret, v.timestamp, Buffer.from(v.body, "utf8")), v.header)
  }
})

test("verifyWebhook() decides every verify vector as it says", () => {
  for (const v of vectors.verify) {
    const options = { now: v.now, toleranceSeconds: v.toleranceSeconds ?? 300 }
    const run = () => verifyWebhook(Buffer.from(v.body, "utf8"), v.header, v.secrets, options)
    if (v.result === "valid") {
      assert.equal(run().id, JSON.parse(v.body).id, v.name)
      // The same with the body as a string, as a Uint8Array, and the header inside a Headers object.
      assert.equal(verifyWebhook(v.body, new Headers({ "PocketPing-Signature": v.header }), v.secrets, options).id,
                   JSON.parse(v.body).id, v.name)
      assert.equal(verifyWebhook(new TextEncoder().encode(v.body), { "pocketping-signature": v.header },
                                 v.secrets, options).type, JSON.parse(v.body).type, v.name)
    } else {
      assert.throws(run, (error) => {
        assert.ok(error instanceof WebhookVerificationError, v.name)
        assert.equal(error.code, v.result, v.name)
        return true
      }, v.name)
    }
  }
})

test("the client's verifyWebhook uses its webhookSecret (several during a rotation)", () => {
  const rotation = vectors.verify.filter((v) => v.secrets.length > 1 && v.result === "valid")
  assert.ok(rotation.length > 0)
  for (const v of rotation) {
    const pp = new PocketPing({ secretKey: "sk_live_x", baseUrl: "http://127.0.0.1:9", webhookSecret: v.secrets })
    assert.equal(pp.verifyWebhook(v.body, v.header, { now: v.now }).id, JSON.parse(v.body).id)
  }
})

test("userHash() gives the hash of every identity vector", () => {
  for (const v of vectors.identity) {
    assert.equal(userHash(v.secret, v.userId), v.userHash, v.userId)
    const pp = new PocketPing({ secretKey: "sk_live_x", baseUrl: "http://127.0.0.1:9", identitySecret: v.secret })
    assert.equal(pp.userHash(v.userId), v.userHash)
  }
})
