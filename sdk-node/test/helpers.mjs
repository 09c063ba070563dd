// Shared by the Node.js SDK's tests. They run against the packed and installed package
// (`@pocketping/sdk` from the `npm pack` tarball), a real `pocketping serve` and real Chromium,
// started and described by tests/sdk_node/test_node_sdk.py through these variables:
//   POCKETPING_URL, POCKETPING_SECRET_KEY  the server and a fresh project's secret key
//   PP_PUBLIC_KEY, PP_HOST_PORT            the project's public key; the port of the host site it allows
//   PP_REPO                                the repository (README, docs, the shared test vectors)
//   PP_CHROMIUM                            Debian's Chromium
import { createServer } from "node:http"
import { readFileSync } from "node:fs"
import { join } from "node:path"

export const env = {
  url: process.env.POCKETPING_URL,
  secretKey: process.env.POCKETPING_SECRET_KEY,
  publicKey: process.env.PP_PUBLIC_KEY,
  hostPort: Number(process.env.PP_HOST_PORT || 0),
  repo: process.env.PP_REPO,
  chromium: process.env.PP_CHROMIUM || "/usr/bin/chromium",
}

export function repoFile(...parts) {
  return readFileSync(join(env.repo, ...parts), "utf8")
}

/** A promise with its resolve and reject at hand. */
export function deferred() {
  let resolve, reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Resolves as `promise` does, or rejects after `ms` saying what was awaited. */
export function within(ms, promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A queue of values to await one by one (events from handlers). */
export class Inbox {
  constructor() {
    this.items = []
    this.waiters = []
  }
  push(item) {
    const waiter = this.waiters.shift()
    if (waiter) waiter(item)
    else this.items.push(item)
  }
  next(ms = 15000, what = "the next item") {
    if (this.items.length) return Promise.resolve(this.items.shift())
    return within(ms, new Promise((resolve) => this.waiters.push(resolve)), what)
  }
}

/** Listen on a free port of 127.0.0.1 (or the given one); resolves to the port. */
export function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => resolve(server.address().port))
  })
}

export function closeServer(server) {
  server.closeAllConnections?.()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** The "customer site": a static server on http://localhost:PP_HOST_PORT (another origin than the chat server). */
export async function startHostSite() {
  const pages = new Map()
  let next = 1
  const server = createServer((req, res) => {
    const body = pages.get(req.url.split("?")[0])
    if (body === undefined) {
      res.statusCode = 404
      res.end()
      return
    }
    res.setHeader("Content-Type", "text/html; charset=utf-8")
    res.setHeader("Cache-Control", "no-store")
    res.end(body)
  })
  const port = await listen(server, env.hostPort)
  const origin = `http://localhost:${port}`
  return {
    origin,
    add(html) {
      const path = `/page${next++}.html`
      pages.set(path, html)
      return origin + path
    },
    close: () => closeServer(server),
  }
}

/** A host page with the README's two-line embed; `script` runs once widget.js is loaded, before init (handlers). */
export function pageHtml({ script = "", head = "" } = {}) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>${head}
<script src="${env.url}/widget.js" defer></script>
<script>window.got = [];
addEventListener("DOMContentLoaded", () => { ${script}
  PocketPing.init({ publicKey: ${JSON.stringify(env.publicKey)} }) })</script>
</head><body><h1>Shop</h1></body></html>`
}

export const CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"]

export async function launchBrowser() {
  const { chromium } = await import("playwright-core")
  return chromium.launch({ executablePath: env.chromium, args: CHROMIUM_FLAGS, headless: true })
}

/**
 * A visitor: a fresh browser context on a host page with the widget, connected; resolves to
 * `{ context, page, url, sessionId }` (the session found by its page URL, through the REST API).
 */
export async function openWidget(browser, site, pp, { script = "", headers } = {}) {
  const context = await browser.newContext(headers ? { extraHTTPHeaders: headers } : {})
  context.setDefaultTimeout(15000)
  const page = await context.newPage()
  const url = site.add(pageHtml({ script }))
  await page.goto(url)
  // Connected and synced: the widget's status line (in its open shadow root) no longer says "Connecting…".
  await page.waitForFunction(() => {
    const status = document.querySelector("#pocketping-root")?.shadowRoot?.querySelector(".s")
    return Boolean(status && status.textContent && status.textContent !== "Connecting…")
  })
  // A first page view sends its metadata (the URL) in a frame of its own after the welcome
  // (docs/privacy.md), so the session may be listed a moment before its URL is stored: look
  // again until it is, within the context's timeout.
  let sessionId
  const deadline = Date.now() + 15000
  while (!sessionId) {
    for await (const session of pp.iterSessions()) {
      if (session.metadata.url === url) sessionId = session.id
    }
    if (sessionId) break
    if (Date.now() > deadline) throw new Error(`no session for ${url}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { context, page, url, sessionId }
}
