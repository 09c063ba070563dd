// The package works from CommonJS (require) as from ES modules (import), with the same exports.
const { test } = require("node:test")
const assert = require("node:assert/strict")

test("require() and import() give the same API", async () => {
  const required = require("@pocketping/sdk")
  const imported = await import("@pocketping/sdk")
  const names = Object.keys(required).filter((k) => k !== "__esModule").sort()
  assert.deepEqual(names, Object.keys(imported).filter((k) => k !== "default").sort())
  for (const name of ["PocketPing", "PocketPingError", "verifyWebhook", "userHash", "sign", "expressMiddleware",
                      "fastifyPlugin", "requestHandler", "WebhookVerificationError", "SIGNATURE_HEADER"]) {
    assert.equal(typeof required[name], name === "SIGNATURE_HEADER" ? "string" : "function", name)
  }
  const pp = new required.PocketPing({ secretKey: "sk_live_x", baseUrl: "http://127.0.0.1:9/" })
  assert.equal(pp.apiUrl, "http://127.0.0.1:9/api/v1")
  assert.equal(required.userHash("k", "u"), imported.userHash("k", "u"))
  // One package, two builds: the error classes are each build's own, with the same behaviour.
  const error = new required.NotFoundError("gone", { code: "session_not_found", status: 404 })
  assert.ok(error instanceof required.PocketPingError && error instanceof Error)
  assert.equal(error.name, "NotFoundError")
})

test("the version constant is the package's", () => {
  const { VERSION } = require("@pocketping/sdk")
  assert.equal(VERSION, require("@pocketping/sdk/package.json").version)
})

test("no runtime dependencies", () => {
  const manifest = require("@pocketping/sdk/package.json")
  assert.deepEqual(Object.keys(manifest.dependencies ?? {}), [])
  assert.equal(manifest.engines.node, ">=18")
})
