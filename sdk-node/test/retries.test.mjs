// Retries with backoff on 429 and 5xx, honouring Retry-After, against a tiny local HTTP server
// that answers from a script (it stands in for a PocketPing server; the SDK is what is tested).
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { createServer } from "node:http"

import { APIConnectionError, PocketPing, RateLimitError, ServerError } from "@pocketping/sdk"

import { closeServer, listen } from "./helpers.mjs"

const SESSION = { id: "sess_1", projectId: "proj_1", visitorId: "vis_1", status: "active", metadata: {},
  createdAt: "2030-01-01T00:00:00.000Z", lastActivity: "2030-01-01T00:00:00.000Z", lastSeq: 0,
  visitorReadSeq: 0, operatorReadSeq: 0, aiEnabled: true }

let server
let base
const state = { script: [], seen: [] }

before(async () => {
  server = createServer((req, res) => {
    const chunks = []
    req.on("data", (c) => chunks.push(c))
    req.on("end", () => {
      state.seen.push({ at: performance.now(), method: req.method, url: req.url, headers: req.headers,
                        body: Buffer.concat(chunks).toString() })
      const step = state.script.shift() ?? { status: 200 }
      res.statusCode = step.status
      res.setHeader("Content-Type", "application/json")
      for (const [k, v] of Object.entries(step.headers ?? {})) res.setHeader(k, v)
      res.end(JSON.stringify(step.status < 400 ? (step.body ?? SESSION)
        : { error: { code: step.code ?? (step.status === 429 ? "rate_limited" : "boom"), message: "no", retryAfter: 0 } }))
    })
  })
  base = `http://127.0.0.1:${await listen(server)}`
})

after(() => closeServer(server))

function client(options = {}) {
  state.seen = []
  return new PocketPing({ secretKey: "sk_live_x", baseUrl: base, retryBackoffMs: 5, ...options })
}

test("a 429 is retried after the Retry-After it names", async () => {
  const pp = client()
  state.script = [{ status: 429, headers: { "Retry-After": "1" } }]
  const session = await pp.getSession("sess_1")
  assert.equal(session.id, "sess_1")
  assert.equal(state.seen.length, 2)
  // The SDK's own backoff is 5 ms here: the second request waited for the server's second.
  assert.ok(state.seen[1].at - state.seen[0].at >= 990, `retried after ${state.seen[1].at - state.seen[0].at} ms`)
  assert.equal(state.seen[0].headers.authorization, "Bearer sk_live_x")
  assert.match(state.seen[0].headers["user-agent"], /^pocketping-sdk-node\//)
})

test("429 and 5xx are retried with backoff, then the answer is used", async () => {
  const pp = client()
  state.script = [{ status: 429, headers: { "Retry-After": "0" } }, { status: 503 }, { status: 500 }]
  assert.equal((await pp.getSession("sess_1")).id, "sess_1")
  assert.equal(state.seen.length, 4)
})

test("when the retries run out, the error carries status, code and message", async () => {
  const pp = client({ retries: 2 })
  state.script = Array(5).fill({ status: 503 })
  await assert.rejects(pp.getSession("sess_1"), (error) => {
    assert.ok(error instanceof ServerError)
    assert.equal(error.status, 503)
    assert.equal(error.code, "boom")
    assert.equal(error.message, "no")
    return true
  })
  assert.equal(state.seen.length, 3)
  state.script = Array(5).fill({ status: 429, headers: { "Retry-After": "0" } })
  state.seen = []
  await assert.rejects(pp.getSession("sess_1"), (error) => {
    assert.ok(error instanceof RateLimitError)
    assert.equal(error.code, "rate_limited")
    assert.equal(error.retryAfter, 0)
    return true
  })
  state.script = []
})

test("a write is retried with the same clientId; a broadcast is not repeated after a 5xx", async () => {
  const pp = client()
  state.script = [{ status: 502 }, { status: 201, body: { id: "msg_1" } }]
  await pp.sendMessage("sess_1", "hi", { operatorName: "Sarah" })
  const posts = state.seen.filter((r) => r.method === "POST")
  assert.equal(posts.length, 2)
  assert.equal(posts[0].body, posts[1].body)
  assert.match(JSON.parse(posts[0].body).clientId, /^sdk_[0-9a-f]{32}$/)
  assert.equal(JSON.parse(posts[0].body).operatorName, "Sarah")

  state.seen = []
  state.script = [{ status: 502 }]
  await assert.rejects(pp.broadcastEvent("flash_sale"), ServerError)
  assert.equal(state.seen.length, 1)
  // A 429 means nothing was done: even the broadcast is sent again.
  state.seen = []
  state.script = [{ status: 429, headers: { "Retry-After": "0" } }, { status: 202, body: { id: "ev_1" } }]
  await pp.broadcastEvent("flash_sale")
  assert.equal(state.seen.length, 2)
})

test("no retries when retries is 0", async () => {
  const pp = client({ retries: 0 })
  state.script = [{ status: 503 }]
  await assert.rejects(pp.getSession("sess_1"), ServerError)
  assert.equal(state.seen.length, 1)
})

test("an unreachable server is a connection error after the retries", async () => {
  const probe = createServer()
  const port = await listen(probe)
  await closeServer(probe) // nothing listens there now
  const pp = new PocketPing({ secretKey: "sk_live_x", baseUrl: `http://127.0.0.1:${port}`, retryBackoffMs: 5 })
  await assert.rejects(pp.listSessions(), (error) => {
    assert.ok(error instanceof APIConnectionError)
    assert.equal(error.code, "connection_error")
    assert.equal(error.status, undefined)
    return true
  })
})

test("query strings and paths are encoded", async () => {
  const pp = client()
  state.script = [{ status: 200, body: { sessions: [], nextCursor: null } },
                  { status: 200, body: { events: [], nextCursor: null, lastSeq: 0 } }]
  await pp.listSessions({ status: "closed", cursor: "a b/c", limit: 5 })
  await pp.listEvents({ after: 7, types: ["event.triggered", "message.created"] })
  assert.equal(state.seen[0].url, "/api/v1/sessions?status=closed&limit=5&cursor=a+b%2Fc")
  assert.equal(state.seen[1].url, "/api/v1/events?after=7&limit=100&type=event.triggered&type=message.created")
})
