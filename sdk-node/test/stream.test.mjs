// The live stream (`pp.listen()` / `pp.stream()`) against a real server: events reach the
// handlers; after the connection is cut, it reconnects with Last-Event-ID and nothing that
// happened meanwhile is missed or repeated. The cut is made by a TCP proxy between the SDK and
// the server, which can drop every connection and refuse new ones for a while.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { createServer, connect } from "node:net"

import { AuthenticationError, PocketPing } from "@pocketping/sdk"

import { Inbox, deferred, env, launchBrowser, listen, openWidget, startHostSite, within } from "./helpers.mjs"

class CuttableProxy {
  constructor(targetPort) {
    this.blocked = false
    this.sockets = new Set()
    this.requests = [] // the head of each request sent through it
    this.server = createServer((client) => {
      if (this.blocked) {
        client.destroy()
        return
      }
      const upstream = connect(targetPort, "127.0.0.1")
      for (const [a, b] of [[client, upstream], [upstream, client]]) {
        this.sockets.add(a)
        a.on("error", () => b.destroy())
        a.on("close", () => {
          this.sockets.delete(a)
          b.destroy()
        })
        a.pipe(b)
      }
      client.once("data", (chunk) => this.requests.push(chunk.toString("latin1")))
    })
  }
  async start() {
    this.url = `http://127.0.0.1:${await listen(this.server)}`
    return this
  }
  cut() {
    this.blocked = true
    for (const socket of this.sockets) socket.destroy()
  }
  restore() {
    this.blocked = false
  }
  close() {
    this.cut()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

function lastEventIdOf(head) {
  const found = /^last-event-id: *(\d+)\r$/im.exec(head)
  return found ? Number(found[1]) : undefined
}

let browser
let site
let admin
let visitor

before(async () => {
  browser = await launchBrowser()
  site = await startHostSite()
  admin = new PocketPing({ secretKey: env.secretKey, baseUrl: env.url })
  visitor = await openWidget(browser, site, admin)
})

after(async () => {
  await browser?.close()
  await site?.close()
})

test("after a cut, listen() resumes with Last-Event-ID: nothing missed, nothing twice", async () => {
  const proxy = await new CuttableProxy(Number(new URL(env.url).port)).start()
  const pp = new PocketPing({ secretKey: env.secretKey, baseUrl: proxy.url, retryBackoffMs: 50 })
  const got = new Inbox()
  pp.onMessage("operator", (message, session) => got.push({ message, session }))
  const opens = []
  let opened = deferred()
  const controller = new AbortController()
  const listening = pp.listen({ signal: controller.signal, onOpen: (cursor) => {
    opens.push(cursor)
    opened.resolve(cursor)
  } })
  try {
    await within(10000, opened.promise, "the stream to open")
    await admin.sendMessage(visitor.sessionId, "before the cut")
    const first = await got.next(15000, "the first message")
    assert.equal(first.message.text, "before the cut")
    assert.equal(first.session.id, visitor.sessionId)

    opened = deferred()
    proxy.cut()
    const texts = ["while away 0", "while away 1", "while away 2"]
    for (const text of texts) await admin.sendMessage(visitor.sessionId, text)
    proxy.restore()
    const cursor = await within(20000, opened.promise, "the stream to reopen")
    const later = []
    for (let i = 0; i < texts.length; i++) later.push((await got.next(15000, `message ${i}`)).message)
    assert.deepEqual(later.map((m) => m.text), texts)
    // The reconnection asked for what came after the last event it had seen.
    const reconnect = proxy.requests.filter((r) => r.startsWith("GET /api/v1/events/stream")).at(-1)
    assert.equal(lastEventIdOf(reconnect), cursor)
    assert.ok(cursor >= 1)
    // And nothing came twice: the next message is the next one handled.
    await admin.sendMessage(visitor.sessionId, "after")
    assert.equal((await got.next(15000, "the last message")).message.text, "after")
    assert.equal(got.items.length, 0)
  } finally {
    controller.abort()
    await listening
    await proxy.close()
  }
})

test("stream({ after: 0 }) starts from the oldest kept event; types filters", async () => {
  const seen = []
  const walk = async () => {
    for await (const event of admin.stream({ after: 0, types: ["session.created"], signal: AbortSignal.timeout(15000) })) {
      seen.push(event)
      if (event.data.sessionId === visitor.sessionId) return
    }
    throw new Error("the stream ended before the visitor's session.created")
  }
  await walk()
  assert.ok(seen.every((e) => e.type === "session.created"))
  assert.ok(seen.every((e, i) => i === 0 || e.seq > seen[i - 1].seq))
  assert.equal(seen.at(-1).data.session.id, visitor.sessionId)
})

test("on(type) gets public events with the session they carry", async () => {
  const pp = new PocketPing({ secretKey: env.secretKey, baseUrl: env.url })
  const closed = new Inbox()
  pp.on("session.closed", (event, session) => closed.push({ event, session }))
  const opened = deferred()
  const controller = new AbortController()
  const listening = pp.listen({ signal: controller.signal, onOpen: opened.resolve })
  await within(10000, opened.promise, "the stream to open")
  await admin.closeSession(visitor.sessionId)
  const { event, session } = await closed.next(15000, "session.closed")
  assert.equal(event.type, "session.closed")
  assert.equal(session.id, visitor.sessionId)
  assert.equal(session.status, "closed")
  await admin.reopenSession(visitor.sessionId)
  controller.abort()
  await listening
})

test("a handler that throws is reported to onError, and listening goes on", async () => {
  const pp = new PocketPing({ secretKey: env.secretKey, baseUrl: env.url })
  const got = new Inbox()
  const failures = new Inbox()
  pp.onMessage("operator", (message) => {
    if (message.text === "boom") throw new Error("handler failed")
    got.push(message.text)
  })
  const opened = deferred()
  const controller = new AbortController()
  const listening = pp.listen({ signal: controller.signal, onOpen: opened.resolve,
                                onError: (error, event) => failures.push({ error, event }) })
  await within(10000, opened.promise, "the stream to open")
  await admin.sendMessage(visitor.sessionId, "boom")
  await admin.sendMessage(visitor.sessionId, "fine")
  const failure = await failures.next(15000, "the failure")
  assert.equal(failure.error.message, "handler failed")
  assert.equal(failure.event.type, "message.created")
  assert.equal(await got.next(15000, "the next message"), "fine")
  controller.abort()
  await listening
})

test("a wrong secret key ends listen() with AuthenticationError instead of retrying forever", async () => {
  const wrong = new PocketPing({ secretKey: "sk_live_wrong", baseUrl: env.url, retryBackoffMs: 5 })
  await within(10000, assert.rejects(wrong.listen(), AuthenticationError), "listen() to reject")
})
