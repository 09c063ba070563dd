// The REST methods against a real `pocketping serve`, with visitors in real Chromium.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"

import { AuthenticationError, InvalidRequestError, NotFoundError, PocketPing, PocketPingError } from "@pocketping/sdk"

import { env, launchBrowser, openWidget, startHostSite } from "./helpers.mjs"

let browser
let site
let pp
const visitors = []

before(async () => {
  browser = await launchBrowser()
  site = await startHostSite()
  pp = new PocketPing({ secretKey: env.secretKey, baseUrl: env.url })
  for (let i = 0; i < 3; i++) visitors.push(await openWidget(browser, site, pp))
})

after(async () => {
  await browser?.close()
  await site?.close()
})

test("getProject, getSession and listSessions page by page; iterSessions walks every page", async () => {
  const project = await pp.getProject()
  assert.equal(project.publicKey, env.publicKey)
  const ids = visitors.map((v) => v.sessionId)
  const first = await pp.getSession(ids[0])
  assert.equal(first.status, "active")
  assert.equal(first.metadata.url, visitors[0].url)
  const seen = []
  let cursor = null
  do {
    const page = await pp.listSessions({ status: "active", limit: 1, cursor })
    assert.ok(page.sessions.length <= 1)
    seen.push(...page.sessions.map((s) => s.id))
    cursor = page.nextCursor
  } while (cursor)
  assert.deepEqual([...seen].sort(), [...ids].sort())
  const all = []
  for await (const session of pp.iterSessions({ status: "active" })) all.push(session.id)
  assert.deepEqual(all, seen)
  assert.deepEqual((await pp.listSessions({ status: "closed" })).sessions, [])
})

test("sendMessage, listMessages after a seq, close and reopen", async () => {
  const id = visitors[1].sessionId
  const one = await pp.sendMessage(id, "first", { operatorName: "Sarah" })
  const two = await pp.sendMessage(id, "second")
  assert.equal(one.sender, "operator")
  assert.equal(one.operatorName, "Sarah")
  assert.equal(two.seq, one.seq + 1)
  // The same clientId twice stores one message (what a retry after a lost answer does).
  const again = await pp.sendMessage(id, "second", { clientId: "retry-1" })
  const same = await pp.sendMessage(id, "second", { clientId: "retry-1" })
  assert.equal(same.id, again.id)
  const after = await pp.listMessages(id, { afterSeq: one.seq })
  assert.deepEqual(after.messages.map((m) => m.text), ["second", "second"])
  const page = await pp.listMessages(id, { limit: 1 })
  assert.equal(page.messages.length, 1)
  assert.equal(page.nextCursor, String(page.messages[0].seq))

  const closed = await pp.closeSession(id)
  assert.equal(closed.status, "closed")
  assert.ok(closed.closedAt)
  const reopened = await pp.reopenSession(id)
  assert.equal(reopened.status, "active")
  assert.equal(reopened.closedAt, null)
})

test("emitEvent answers the stored event; listMessages includes it only when asked", async () => {
  const id = visitors[1].sessionId
  const sent = await pp.emitEvent(id, "show_discount", { percent: 20 })
  assert.equal(sent.name, "show_discount")
  assert.deepEqual(sent.data, { percent: 20 })
  assert.equal(sent.sessionId, id)
  const withEvents = await pp.listMessages(id, { afterSeq: sent.seq - 1, includeEvents: true })
  assert.deepEqual(withEvents.messages.map((m) => [m.kind, m.name]), [["event", "show_discount"]])
  assert.deepEqual((await pp.listMessages(id, { afterSeq: sent.seq - 1 })).messages, [])
})

test("identify attaches a verified identity", async () => {
  const id = visitors[2].sessionId
  const session = await pp.identify(id, { id: "user_42", email: "ana@example.com", name: "Ana", traits: { plan: "pro" } })
  assert.deepEqual(session.identity, { id: "user_42", email: "ana@example.com", name: "Ana", traits: { plan: "pro" },
                                       verified: true })
  assert.deepEqual((await pp.getSession(id)).identity, session.identity)
  await assert.rejects(pp.identify(id, { id: "" }), InvalidRequestError)
})

test("eraseSession removes the session and its messages", async () => {
  const id = visitors[0].sessionId
  await pp.sendMessage(id, "to be forgotten")
  const erased = await pp.eraseSession(id)
  assert.deepEqual(erased, { sessionId: id, deleted: { sessions: 1, messages: 1 }, eraseId: erased.eraseId })
  const erasure = await pp.getErasure(erased.eraseId)
  assert.equal(erasure.eraseId, erased.eraseId)
  assert.deepEqual(erasure.deleted, { sessions: 1, messages: 1 })
  assert.ok(erasure.platforms.some((step) => step.target === "files"))
  await assert.rejects(pp.getSession(id), (error) => {
    assert.ok(error instanceof NotFoundError && error instanceof PocketPingError)
    assert.equal(error.status, 404)
    assert.equal(error.code, "session_not_found")
    assert.match(error.message, /not found/)
    return true
  })
})

test("errors carry the server's status, code and message", async () => {
  await assert.rejects(pp.sendMessage("sess_nope", "hi"), { status: 404, code: "session_not_found" })
  await assert.rejects(pp.emitEvent(visitors[1].sessionId, "bad name!"), (error) => {
    assert.ok(error instanceof InvalidRequestError)
    assert.equal(error.status, 422)
    return true
  })
  const wrong = new PocketPing({ secretKey: "sk_live_wrong", baseUrl: env.url })
  await assert.rejects(wrong.listSessions(), (error) => {
    assert.ok(error instanceof AuthenticationError)
    assert.equal(error.status, 401)
    assert.equal(error.code, "invalid_key")
    return true
  })
})

test("the secret key and the URL come from POCKETPING_SECRET_KEY and POCKETPING_URL", async () => {
  const fromEnv = new PocketPing()
  assert.equal(fromEnv.baseUrl, env.url)
  assert.equal((await fromEnv.getProject()).publicKey, env.publicKey)
  const saved = process.env.POCKETPING_SECRET_KEY
  delete process.env.POCKETPING_SECRET_KEY
  try {
    assert.throws(() => new PocketPing(), /POCKETPING_SECRET_KEY/)
  } finally {
    process.env.POCKETPING_SECRET_KEY = saved
  }
})
