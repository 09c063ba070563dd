// The whole loop in real Chromium against a real server: a page's PocketPing.trigger() reaches
// onEvent through the live stream and through an Express webhook receiver; emitEvent reaches
// the page's onEvent; sendMessage reaches the widget; and the seed's own example runs as written.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"

import express from "express"

import { PocketPing } from "@pocketping/sdk"

import { Inbox, closeServer, deferred, env, launchBrowser, openWidget, repoFile, startHostSite, within } from "./helpers.mjs"

// The seed's backend example, word for word (it reads POCKETPING_SECRET_KEY and POCKETPING_URL).
const SEED_EXAMPLE = `const pp = new PocketPing({
  onEvent: (event, session) => {
    if (event.name === 'clicked_pricing') {
      // Log to analytics
      analytics.track('pricing_view', event.data);

      // Notify team
      console.log(\`\${session.metadata.country} visitor interested in \${event.data.plan}\`);
    }
  }
});`

let browser
let site

before(async () => {
  browser = await launchBrowser()
  site = await startHostSite()
})

after(async () => {
  await browser?.close()
  await site?.close()
})

/** `pp.listen()` until `stop()`, resolved once the stream is open. */
async function listening(pp) {
  const controller = new AbortController()
  const opened = deferred()
  const done = pp.listen({ signal: controller.signal, onOpen: opened.resolve })
  await within(10000, opened.promise, "the stream to open")
  return async () => {
    controller.abort()
    await done
  }
}

test("a page's trigger() reaches onEvent through the live stream", async () => {
  const got = new Inbox()
  const pp = new PocketPing({ secretKey: env.secretKey, baseUrl: env.url,
                              onEvent: (event, session) => got.push({ event, session }) })
  const stop = await listening(pp)
  try {
    const visitor = await openWidget(browser, site, pp)
    await visitor.page.evaluate(() => PocketPing.trigger("clicked_pricing", { plan: "pro", seats: 3 }))
    const { event, session } = await got.next(15000, "the event from the stream")
    assert.equal(event.name, "clicked_pricing")
    assert.deepEqual(event.data, { plan: "pro", seats: 3 })
    assert.equal(event.sessionId, visitor.sessionId)
    assert.ok(event.seq > 0)
    assert.equal(session.id, visitor.sessionId)
    assert.equal(session.metadata.url, visitor.url)
    await visitor.context.close()
  } finally {
    await stop()
  }
})

test("a page's trigger() reaches onEvent through an Express webhook receiver", async () => {
  const admin = new PocketPing()
  const app = express()
  const server = app.listen(0, "127.0.0.1")
  await new Promise((resolve) => server.once("listening", resolve))
  const hook = await admin.createWebhook(`http://127.0.0.1:${server.address().port}/webhooks/pocketping`,
                                         ["event.triggered"])
  const got = new Inbox()
  const pp = new PocketPing({ webhookSecret: hook.secret })
  pp.on("clicked_pricing", (event, session) => got.push({ event, session }))
  app.post("/webhooks/pocketping", pp.expressMiddleware())
  try {
    const visitor = await openWidget(browser, site, admin)
    await visitor.page.evaluate(() => PocketPing.trigger("clicked_pricing", { plan: "team" }))
    const { event, session } = await got.next(20000, "the event from the webhook")
    assert.equal(event.name, "clicked_pricing")
    assert.deepEqual(event.data, { plan: "team" })
    assert.equal(event.seq, null)
    assert.equal(session.id, visitor.sessionId)
    const [delivery] = await admin.listDeliveries(hook.id)
    assert.equal(delivery.eventId, event.id)
    await visitor.context.close()
  } finally {
    await admin.deleteWebhook(hook.id)
    await closeServer(server)
  }
})

test("emitEvent reaches the page's onEvent; sendMessage reaches the widget", async () => {
  const pp = new PocketPing()
  const visitor = await openWidget(browser, site, pp, { script: `
    PocketPing.onEvent("show_discount", (data, event) => got.push(["event", data, event.name]));
    PocketPing.on("message", (message) => got.push(["message", message.text, message.operatorName]));` })
  const { page } = visitor
  await pp.emitEvent(visitor.sessionId, "show_discount", { percent: 20 })
  await page.waitForFunction(() => window.got.some((g) => g[0] === "event"))
  assert.deepEqual(await page.evaluate(() => window.got.filter((g) => g[0] === "event")),
                   [["event", { percent: 20 }, "show_discount"]])

  await pp.sendMessage(visitor.sessionId, "Hi from Node!", { operatorName: "Sarah" })
  await page.waitForFunction(() => window.got.some((g) => g[0] === "message"))
  assert.deepEqual(await page.evaluate(() => window.got.filter((g) => g[0] === "message")),
                   [["message", "Hi from Node!", "Sarah"]])
  // And the visitor sees it in the conversation.
  await page.getByRole("button", { name: /Open chat/ }).click()
  await page.getByRole("log").getByText("Hi from Node!").waitFor()
  await visitor.context.close()
})

test("the seed's example runs as written", async () => {
  for (const doc of ["README.md", "docs/sdk-node.md", "sdk-node/README.md"]) {
    assert.ok(repoFile(doc).includes(SEED_EXAMPLE), `${doc} shows the seed's example as written`)
  }
  // The example as a module of the user's: the SDK's import, the example untouched, and what
  // the docs say comes next (pp.listen()). `analytics` is the user's own; here it records.
  const tracked = []
  globalThis.analytics = { track: (...args) => tracked.push(args) }
  const logged = new Inbox()
  const log = console.log
  console.log = (...args) => logged.push(args.join(" "))
  const file = new URL("./seed-example.mjs", import.meta.url)
  writeFileSync(file, `import { PocketPing } from "@pocketping/sdk";\n\n${SEED_EXAMPLE}\n\nexport default pp;\n`)
  let stop
  try {
    const { default: pp } = await import(file.href)
    assert.ok(pp instanceof PocketPing)
    stop = await listening(pp)
    const visitor = await openWidget(browser, site, pp, { headers: { "X-Country-Code": "FR" } })
    await visitor.page.evaluate(() => PocketPing.trigger("clicked_pricing", { plan: "pro", source: "homepage" }))
    assert.equal(await logged.next(15000, "the example's console.log"), "FR visitor interested in pro")
    assert.deepEqual(tracked, [["pricing_view", { plan: "pro", source: "homepage" }]])
    await visitor.context.close()
  } finally {
    console.log = log
    await stop?.()
    delete globalThis.analytics
  }
})
