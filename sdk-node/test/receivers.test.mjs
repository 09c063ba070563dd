// The ready-made webhook receivers (Express, Fastify, Web Request), fed a real delivery from the
// server (captured as sent: raw bytes and headers), and forgeries of it.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { createServer } from "node:http"

import express from "express"
import Fastify from "fastify"

import { PocketPing, sign } from "@pocketping/sdk"

import { Inbox, closeServer, env, launchBrowser, listen, openWidget, startHostSite } from "./helpers.mjs"

let browser
let site
let capture
let hook
let delivery // { body: Buffer, header: string, event }
let visitor
const quiet = { warn() {}, error() {} }

before(async () => {
  browser = await launchBrowser()
  site = await startHostSite()
  const admin = new PocketPing()
  const captured = new Inbox()
  capture = createServer((req, res) => {
    const chunks = []
    req.on("data", (c) => chunks.push(c))
    req.on("end", () => {
      captured.push({ body: Buffer.concat(chunks), headers: req.headers })
      res.end()
    })
  })
  const port = await listen(capture)
  hook = await admin.createWebhook(`http://127.0.0.1:${port}/capture`, ["session.created"])
  assert.match(hook.secret, /^whsec_/)
  visitor = await openWidget(browser, site, admin)
  const got = await captured.next(20000, "the session.created delivery")
  delivery = { body: got.body, header: got.headers["pocketping-signature"], event: JSON.parse(got.body) }
  assert.equal(delivery.event.data.sessionId, visitor.sessionId)
  await admin.deleteWebhook(hook.id)
})

after(async () => {
  await browser?.close()
  await site?.close()
  if (capture) await closeServer(capture)
})

/** A client with the endpoint's secret, and what its handlers saw. */
function receiver(handler) {
  const pp = new PocketPing({ webhookSecret: hook.secret, logger: quiet })
  const handled = []
  pp.on("session.created", handler ?? ((event, session) => { handled.push({ event, session }) }))
  return { pp, handled }
}

function forgeries() {
  const t = Math.floor(Date.now() / 1000)
  const tampered = Buffer.from(delivery.body.toString().replace(delivery.event.id, delivery.event.id + "x"))
  return [
    ["forged", delivery.body, `t=${t},v1=${"ab".repeat(32)}`, "invalid_signature"],
    ["stale", delivery.body, sign(hook.secret, t - 301, delivery.body), "stale_signature"],
    ["re-signed with the wrong secret", delivery.body, sign("whsec_not_the_endpoints", t, delivery.body),
     "invalid_signature"],
    ["tampered", tampered, delivery.header, "invalid_signature"],
    ["unsigned", delivery.body, undefined, "missing_signature"],
  ]
}

async function post(url, body, header, contentType = "application/json") {
  const headers = { "Content-Type": contentType }
  if (header) headers["PocketPing-Signature"] = header
  const res = await fetch(url, { method: "POST", headers, body })
  return { status: res.status, body: await res.json() }
}

test("Express: the real delivery is handled once; forged, stale, tampered, wrong-secret and unsigned ones are refused", async () => {
  const { pp, handled } = receiver()
  const app = express()
  app.post("/webhooks/pocketping", pp.expressMiddleware())
  const server = app.listen(0, "127.0.0.1")
  await new Promise((resolve) => server.once("listening", resolve))
  const url = `http://127.0.0.1:${server.address().port}/webhooks/pocketping`
  try {
    for (const [what, body, header, code] of forgeries()) {
      const answer = await post(url, body, header)
      assert.equal(answer.status, 400, what)
      assert.equal(answer.body.error.code, code, what)
    }
    assert.equal(handled.length, 0)
    const genuine = await post(url, delivery.body, delivery.header)
    assert.deepEqual(genuine, { status: 200, body: { received: delivery.event.id, handled: 1 } })
    assert.equal(handled.length, 1)
    assert.equal(handled[0].event.id, delivery.event.id)
    assert.equal(handled[0].session.id, visitor.sessionId)
    // Delivered again (at least once): the same id is not handled twice.
    assert.deepEqual((await post(url, delivery.body, delivery.header)).body, { received: delivery.event.id, handled: 0 })
    assert.equal(handled.length, 1)
  } finally {
    await closeServer(server)
  }
})

test("Express: after express.raw() it works; after express.json() it says how to mount it", async () => {
  const { pp, handled } = receiver()
  const app = express()
  app.post("/raw", express.raw({ type: "application/json" }), pp.expressMiddleware())
  app.post("/parsed", express.json(), pp.expressMiddleware())
  const server = app.listen(0, "127.0.0.1")
  await new Promise((resolve) => server.once("listening", resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    assert.equal((await post(`${base}/raw`, delivery.body, delivery.header)).status, 200)
    assert.equal(handled.length, 1)
    const parsed = await post(`${base}/parsed`, delivery.body, delivery.header)
    assert.equal(parsed.status, 500)
    assert.equal(parsed.body.error.code, "body_already_parsed")
    assert.match(parsed.body.error.message, /express\.raw/)
  } finally {
    await closeServer(server)
  }
})

test("a handler that throws answers 500, so the same event is handled when delivered again", async () => {
  let calls = 0
  const { pp } = receiver(() => {
    calls++
    if (calls === 1) throw new Error("database down")
  })
  const handle = pp.requestHandler()
  const request = () => new Request("http://localhost/webhooks", {
    method: "POST", headers: { "PocketPing-Signature": delivery.header }, body: delivery.body })
  const failed = await handle(request())
  assert.equal(failed.status, 500)
  assert.equal((await failed.json()).error.code, "handler_failed")
  const retried = await handle(request())
  assert.equal(retried.status, 200)
  assert.equal(calls, 2)
})

test("Fastify plugin: verifies and dispatches; other routes still parse JSON", async () => {
  const { pp, handled } = receiver()
  const app = Fastify()
  await app.register(pp.fastifyPlugin(), { path: "/webhooks/pocketping" })
  app.post("/json", async (request) => ({ echo: request.body }))
  try {
    const inject = (body, header) => app.inject({ method: "POST", url: "/webhooks/pocketping", payload: body,
      headers: { "content-type": "application/json", ...(header ? { "pocketping-signature": header } : {}) } })
    for (const [what, body, header, code] of forgeries()) {
      const answer = await inject(body, header)
      assert.equal(answer.statusCode, 400, what)
      assert.equal(answer.json().error.code, code, what)
    }
    const genuine = await inject(delivery.body, delivery.header)
    assert.equal(genuine.statusCode, 200)
    assert.deepEqual(genuine.json(), { received: delivery.event.id, handled: 1 })
    assert.equal(handled[0].session.id, visitor.sessionId)
    const other = await app.inject({ method: "POST", url: "/json", payload: { a: 1 } })
    assert.deepEqual(other.json(), { echo: { a: 1 } })
  } finally {
    await app.close()
  }
})

test("Web Request handler (Next.js, Hono, Deno, Bun): verifies and dispatches", async () => {
  const { pp, handled } = receiver()
  const handle = pp.requestHandler()
  const request = (body, header, method = "POST") => new Request("http://localhost/api/pocketping", {
    method, headers: header ? { "PocketPing-Signature": header, "Content-Type": "application/json" } : {},
    body: method === "POST" ? body : undefined })
  for (const [what, body, header, code] of forgeries()) {
    const answer = await handle(request(body, header))
    assert.equal(answer.status, 400, what)
    assert.equal((await answer.json()).error.code, code, what)
  }
  const genuine = await handle(request(delivery.body, delivery.header))
  assert.equal(genuine.status, 200)
  assert.equal(genuine.headers.get("content-type"), "application/json")
  assert.deepEqual(await genuine.json(), { received: delivery.event.id, handled: 1 })
  assert.equal(handled.length, 1)
  assert.equal((await handle(request(null, null, "GET"))).status, 405)
})

test("verifyWebhook with the endpoint's secret accepts the real delivery, and refuses it after the tolerance", async () => {
  const { pp } = receiver()
  const t = Number(/t=(\d+)/.exec(delivery.header)[1])
  assert.equal(pp.verifyWebhook(delivery.body, delivery.header).id, delivery.event.id)
  assert.throws(() => pp.verifyWebhook(delivery.body, delivery.header, { now: t + 301 }), { code: "stale_signature" })
  assert.throws(() => pp.verifyWebhook(delivery.body, delivery.header, { now: t + 61, toleranceSeconds: 60 }),
                { code: "stale_signature" })
})
