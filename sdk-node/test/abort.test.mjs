// An AbortSignal cancels any call: while waiting for the answer, while waiting to retry, or
// before it starts. The local server here never answers (or asks to retry in a minute).
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { createServer } from "node:http"

import { APIConnectionError, PocketPing } from "@pocketping/sdk"

import { closeServer, deferred, listen, within } from "./helpers.mjs"

let server
let base
const state = { mode: "hang", seen: 0, arrived: deferred() }

before(async () => {
  server = createServer((req, res) => {
    state.seen++
    state.arrived.resolve()
    if (state.mode === "retry-later") {
      res.statusCode = 503
      res.setHeader("Retry-After", "60")
      res.end("{}")
    } else if (state.mode === "stream") {
      res.setHeader("Content-Type", "text/event-stream")
      res.write("retry: 2000\nid: 5\n\n")
    }
    // "hang": never answer
  })
  base = `http://127.0.0.1:${await listen(server)}`
})

after(() => closeServer(server))

function reset(mode) {
  state.mode = mode
  state.seen = 0
  state.arrived = deferred()
}

const pp = () => new PocketPing({ secretKey: "sk_live_x", baseUrl: base, timeoutMs: 60_000 })

test("aborting while waiting for the answer rejects at once with the signal's reason", async () => {
  reset("hang")
  const controller = new AbortController()
  const call = pp().getSession("sess_1", { signal: controller.signal })
  await within(5000, state.arrived.promise, "the request to arrive")
  controller.abort()
  await within(2000, assert.rejects(call, { name: "AbortError" }), "the call to reject")
  assert.equal(state.seen, 1)
})

test("aborting during the wait before a retry stops it: nothing is sent again", async () => {
  reset("retry-later")
  const controller = new AbortController()
  const call = pp().listSessions({ signal: controller.signal })
  await within(5000, state.arrived.promise, "the request to arrive")
  const reason = new Error("the user left")
  controller.abort(reason)
  await within(2000, assert.rejects(call, (error) => error === reason), "the call to reject")
  assert.equal(state.seen, 1)
})

test("an already aborted signal sends nothing", async () => {
  reset("hang")
  await assert.rejects(pp().sendMessage("sess_1", "hi", { signal: AbortSignal.abort() }), { name: "AbortError" })
  await assert.rejects(pp().emitEvent("sess_1", "x", {}, { signal: AbortSignal.abort() }), { name: "AbortError" })
  assert.equal(state.seen, 0)
})

test("timeoutMs ends an attempt that gets no answer", async () => {
  reset("hang")
  const client = new PocketPing({ secretKey: "sk_live_x", baseUrl: base, timeoutMs: 200, retries: 1,
                                  retryBackoffMs: 5 })
  await assert.rejects(client.getSession("sess_1"), (error) => {
    assert.ok(error instanceof APIConnectionError)
    assert.equal(error.code, "timeout")
    return true
  })
  assert.equal(state.seen, 2)
})

test("listen() ends when its signal is aborted, and close() ends every listen", async () => {
  reset("stream")
  const client = pp()
  const controller = new AbortController()
  const opened = deferred()
  const listening = client.listen({ signal: controller.signal, onOpen: opened.resolve })
  assert.equal(await within(5000, opened.promise, "the stream to open"), 5)
  controller.abort()
  await within(2000, listening, "listen() to end")

  const again = deferred()
  const second = client.listen({ onOpen: again.resolve })
  await within(5000, again.promise, "the stream to open again")
  client.close()
  await within(2000, second, "listen() to end after close()")
})
