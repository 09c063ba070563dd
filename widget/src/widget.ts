// The chat: one shadow root, the conversation state, and the widget protocol (docs/protocol.md).

import CSS from "./widget.css"
import { doc, h, icon, on } from "./dom"
import { pickLocale, rtl, strings, T } from "./i18n"
import { md } from "./md"
import { connect, type Link } from "./transport"

export interface Options {
  publicKey: string
  serverUrl?: string
  primaryColor?: string
  operatorName?: string
  welcomeMessage?: string
  position?: string
  locale?: string
  open?: boolean
  theme?: string
}

export type Frame = Record<string, any>

export interface Widget {
  open(v: boolean, focus?: boolean): void
  isOpen(): boolean
  queue(f: Frame): void
  destroy(): void
}

/** A row of the conversation: a message or a notice (also our own message while pending). */
interface Item {
  id?: string
  seq?: number
  kind: string
  sender: string
  text?: string
  name?: string
  operatorName?: string
  createdAt?: string
  clientId?: string
  deletedAt?: string
  editedAt?: string
  failed?: boolean
  attachments?: Frame[]
  up?: Up
  el?: HTMLElement
  st?: HTMLElement
}

/** A file on its way up: its request while it runs, its error once it failed. */
interface Up {
  f: File
  x?: XMLHttpRequest
  p?: HTMLProgressElement
  e?: string
}

const CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"
const X = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z"
const DOWN = "M5 9h14l-7 7z"
const SEND = "M3 20.5V14l9-2-9-2V3.5L22 12z"
const OVERRIDES = ["primaryColor", "operatorName", "welcomeMessage", "position", "locale"] as const

const label = (el: Element, name: string) => el.setAttribute("aria-label", name)


export const cid = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 10)

export function mount(o: Options, emit: (type: string, arg?: unknown) => void, fire: (f: Frame) => void,
                      early: Frame[]): Widget {
  const key = "pocketping:" + o.publicKey
  const base = (o.serverUrl || "").replace(/\/*$/, "")
  const store: Frame = {}
  const overrides: Frame = {}
  for (const k of OVERRIDES) if (o[k]) overrides[k] = o[k]
  let settings: Frame = overrides
  let outbox: Frame[] = []
  const once: Frame = {}
  let sentNow = new Set<Frame>() // frames sent on the current connection
  const done = new Set<string>()
  let items: Item[] = []
  let sid = ""
  let lastSeq = 0
  let vread = 0
  let oread = 0
  let dseq = 0
  let evtMark = 0
  let older = 0 // the oldest seq held while older items remain on the server (0: none); `history` pages back
  let asking = 0
  let ready = false
  let live = false
  let isOpen = false
  let online = true
  let unread = 0
  let thanks = ""
  let can = "" // the server sends mail: the transcript button's label (localized by the server)
  let mail = "" // the label while the button is offered
  let pc: Frame | undefined // the pre-chat form's mode and labels
  let rated = false
  let locale = ""
  let S = strings("en")
  let typingAt = 0
  let ed: Item | undefined
  let idle = 0
  let typingOff = 0
  let link: Link | undefined
  let unlock: (() => void) | undefined

  // --- the DOM ------------------------------------------------------------------------------
  const host = h("div", { id: "pocketping-root" })
  const root = host.attachShadow({ mode: "open" })
  try {
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(CSS)
    root.adoptedStyleSheets = [sheet]
  } catch {
    root.append(h("style", null, CSS)) // browsers without constructable stylesheets
  }
  const openIcon = icon(CHAT)
  const shutIcon = icon(X)
  const badge = h("span", { className: "k", "aria-hidden": "true" })
  const launcher = h("button", { className: "l", type: "button", "aria-haspopup": "dialog", "aria-controls": "p" },
                     openIcon, shutIcon, badge)
  const title = h("h2")
  const status = h("div")
  const minimize = h("button", { className: "x", type: "button" }, icon(DOWN))
  const welcome = h("div", { className: "b" })
  const log = h("div", { className: "m", role: "log", "aria-live": "polite" }, h("div", { className: "r" }, welcome))
  const typing = h("div", { className: "y", hidden: true })
  const awayText = h("p")
  const email = h("input", { type: "email", required: true, autocomplete: "email" })
  const notify = h("button")
  const c1 = h("p") // the project's consent line, under each form that asks for an email
  const c2 = h("p")
  const away = h("form", { className: "o" }, awayText, email, notify, c1)
  const cp = h("p") // the consent text (project update --consent) and its button
  const cb = h("button")
  const cf = h("form", { className: "o" }, cp, cb)
  const tr = h("button", { type: "button", className: "t" })
  const ta = h("textarea", { rows: 1 })
  const send = h("button", null, icon(SEND))
  const picker = h("input", { type: "file", multiple: true, hidden: true })
  const clip = h("button", { type: "button", className: "a" }, "📎")
  const composer = h("form", null, clip, picker, ta, send)
  // The pre-chat form (labels the bundle lacks come from the server, in `pc`).
  const pn = h("input", { autocomplete: "name" })
  const pe = h("input", { type: "email", autocomplete: "email" })
  const pt = h("textarea", { required: true })
  const pb = h("button")
  const pf = h("form", { className: "o" }, pn, pe, pt, pb, c2)
  const panel = h("div", { className: "p", id: "p", role: "dialog", hidden: true },
                  h("header", null, h("div", null, title, status), minimize), log, typing, cf, away, tr, pf, composer)
  root.append(launcher, panel)
  const attach = () => doc.body.append(host)
  doc.body ? attach() : on(doc, "DOMContentLoaded", attach)

  const mq = matchMedia("(prefers-color-scheme: dark)")
  const vv = visualViewport
  const dark = () => host.classList.toggle("d", o.theme == "dark" || (o.theme != "light" && mq.matches))
  // Full screen on phones: follow the visual viewport, so the on-screen keyboard never hides the composer.
  const fit = () => {
    const small = vv && innerWidth <= 480
    panel.style.height = small ? vv!.height + "px" : ""
    panel.style.top = small ? vv!.offsetTop + "px" : ""
  }
  const offs = [
    on(mq, "change", dark),
    on(doc, "visibilitychange", () => markRead()),
    on(launcher, "click", () => setOpen(!isOpen, true)),
    on(minimize, "click", () => setOpen(false)),
    on(root, "keydown", (e: KeyboardEvent) => e.key == "Escape" && isOpen && setOpen(false)),
    on(ta, "keydown", (e: KeyboardEvent) => {
      if (e.key == "Enter" && !e.shiftKey && !e.isComposing) submit(e)
      // Arrow up in an empty box: edit your last message (the server allows 5 minutes).
      else if (e.key == "ArrowUp" && !ta.value && (ed = items.filter((m) => m.sender == "visitor" && m.id).pop()))
        ta.value = ed.text || ""
    }),
    on(ta, "input", () => {
      grow()
      const now = Date.now()
      if (ta.value && now - typingAt > 2e3) typingAt = now, link?.send({ type: "typing", active: true })
      clearTimeout(idle)
      idle = setTimeout(stopTyping, 3e3) as unknown as number
    }),
    on(composer, "submit", submit),
    // At the top with older items on the server: ask for the page before the oldest one held.
    on(log, "scroll", () => log.scrollTop < 50 && older && !asking && link?.send({ type: "history", beforeSeq: older }) && (asking = 1)),
    // Files: the button, a drop onto the panel, an image pasted into the composer.
    on(clip, "click", () => picker.click()),
    on(picker, "change", () => addFiles(picker.files!)),
    on(panel, "dragover", (e: DragEvent) => e.preventDefault()),
    on(panel, "drop", (e: DragEvent) => (e.preventDefault(), addFiles(e.dataTransfer!.files))),
    on(ta, "paste", (e: ClipboardEvent) => addFiles(e.clipboardData!.files)),
    on(pf, "submit", (e: Event) => {
      e.preventDefault()
      link?.send({ type: "prechat", name: pn.value.trim(), email: pe.value.trim(), text: pt.value.trim() })
    }),
    on(tr, "click", () => (link?.send({ type: "transcript" }), (mail = ""), refresh())),
    on(cf, "submit", (e: Event) => (e.preventDefault(), (store.a = 1), save(), cs(), refresh())),
    on(away, "submit", (e: Event) => {
      e.preventDefault()
      once.contact = { type: "contact", email: email.value.trim() }
      flush()
    }),
  ]
  vv && offs.push(on(vv, "resize", fit), on(vv, "scroll", fit))

  // --- protocol ---------------------------------------------------------------------------
  /** Everything that can wait for the next task: storage, the queue, the connection. */
  function start() {
    // A first visit opened in several tabs at once must still make one session: without a token,
    // tabs take turns (Web Locks) until the first one has stored its token.
    const locks = navigator.locks
    load().t || !locks ? begin() : locks.request(key, () => new Promise<void>((r) => ((unlock = r), begin())))
  }

  function begin() {
    Object.assign(store, load())
    // A reply mail's link (#pocketping=<resume token>) reopens that conversation here.
    const r = /pocketping=([\w.-]+)/.exec(location.hash)
    if (r) (store.t = r[1]), history.replaceState(null, "", location.href.split("#")[0])
    outbox = store.q || []
    evtMark = store.e || 0
    // Messages queued by an earlier page that never got their ack: show them pending, send them again.
    for (const f of outbox) if (f.type == "message") place({ kind: "message", sender: "visitor", text: f.text, clientId: f.clientId })
    link = connect(
      (o.serverUrl || "").replace(/^http/, "ws").replace(/\/*$/, "/ws"),
      () => ({
        type: "hello",
        publicKey: o.publicKey,
        token: store.t,
        lastSeq,
        metadata: gm() && meta(),
      }),
      frame,
      (fatal) => {
        ready = false
        if (fatal) host.style.display = "none" // a wrong key or origin: only the site owner can fix it
        refresh()
      },
    )
    early.splice(0).forEach((f) => queue(f))
  }

  function frame(f: Frame) {
    const t = f.type
    if (t == "welcome") {
      if (sid && sid != f.sessionId) reset()
      sid = f.sessionId
      store.t = f.token
      sentNow = new Set()
      vread = Math.max(vread, f.visitorReadSeq)
      oread = Math.max(oread, f.operatorReadSeq)
      online = f.online
      can = f.mail || ""
      pc = f.prechat
      mail = f.identity?.email || store.c ? can : ""
      rated = f.rated
      store.k = (settings = { ...f.settings, ...overrides }).consent // the consent mode, for the next hello
      save()
      unlock?.()
      ta.maxLength = f.limits?.maxTextChars || 4000
      apply()
      cs()
    } else if (t == "synced") {
      // Only the latest items were replayed: a gap after what this page held is dropped, reloaded by scrolling up.
      if (f.more) (older = f.replayFrom), (items = items.filter((m) => !(m.seq! < older) || m.el!.remove()))
      ready = live = true
      flush()
      markRead()
    } else if (t == "history") {
      const h = log.scrollHeight - log.scrollTop
      const s = f.items[0]
      older = f.more && s ? (s.message || s).seq : 0
      for (const i of f.items) i.message && !find((x) => x.id == i.message.id) && place({ ...i.message }, 0, 1)
      log.scrollTop = log.scrollHeight - h // the visitor stays where they were reading
      asking = 0
    } else if (t == "message") onMessage(f.message)
    else if (t == "message_updated" || t == "message_deleted") {
      const m = find((x) => x.id == f.message.id)
      m && (Object.assign(m, f.message), row(m))
    } else if (t == "ack") {
      dequeue(f.clientId)
      const m = find((x) => x.clientId == f.clientId)
      if (m && !m.seq) (m.id = f.id), (m.createdAt = f.createdAt), place(m, f.seq)
    } else if (t == "event") {
      // A broadcast (POST /api/v1/events without visitorId) is live only: no seq, never replayed.
      if (f.broadcast) fire(f)
      else {
        lastSeq = Math.max(lastSeq, f.seq)
        if (f.seq > evtMark) (evtMark = f.seq), save(), fire(f)
      }
    } else if (t == "read") {
      if (f.by == "visitor") vread = Math.max(vread, f.seq)
      else (oread = Math.max(oread, f.seq)), states()
    } else if (t == "delivered") (dseq = Math.max(dseq, f.seq)), states()
    else if (t == "presence") online = f.online
    else if (t == "typing") {
      typing.hidden = !f.active
      typing.replaceChildren(S(T.Typing, f.operatorName || settings.operatorName), h("i"), h("i"), h("i"))
      clearTimeout(typingOff)
      typingOff = setTimeout(() => (typing.hidden = true), 8e3) as unknown as number
    } else if (t == "rated") {
      rated = true
      for (const q of root.querySelectorAll(".q")) q.replaceWith(q.firstChild!)
    } else if (t == "identified") delete once.identify
    else if (t == "prechat") (pc = f), (settings = { ...f.settings, ...overrides }), apply()
    else if (t == "contact") {
      delete once.contact
      store.c = 1
      thanks = S(T.Thanks, f.email)
      mail = can
      save()
    } else if (t == "error") {
      asking = 0
      const q = outbox.find((x) => x.clientId == f.clientId)
      if (q && f.code == "rate_limited") {
        sentNow.delete(q)
        setTimeout(flush, (f.retryAfter || 5) * 1e3)
      } else if (q) {
        dequeue(q.clientId)
        const m = find((x) => x.clientId == q.clientId)
        m && ((m.failed = true), state(m))
      } else if (/^identi/.test(f.code)) delete once.identify
      else if (/mail/.test(f.code)) delete once.contact
      console.warn("PocketPing:", f.code, f.message)
    }
    refresh()
  }

  // Consent (docs/privacy.md): with "required", no metadata until the visitor accepts; the mode is
  // known from an earlier welcome, so a first page view sends its metadata after the welcome.
  function gm() {
    return store.a || (store.k && store.k[0] != "r") // accepted (the mode may not be known yet) or not needed
  }

  function meta() {
    return {
      url: location.href,
      referrer: doc.referrer,
      title: doc.title,
      language: navigator.language,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      screen: screen.width + "x" + screen.height,
    }
  }

  /** Tell the server the visitor's acceptance (it keeps the first), then the metadata (it keeps
   *  what it has when nothing changed: the hello may have carried it already). */
  function cs() {
    store.a && link!.send({ type: "consent", accepted: true })
    gm() && link!.send({ type: "metadata", metadata: meta() })
  }

  function onMessage(msg: Frame) {
    lastSeq = Math.max(lastSeq, msg.seq)
    if (find((x) => x.id == msg.id)) return // seen already (another tab's echo, a replay)
    const mine = msg.clientId && find((x) => x.clientId == msg.clientId && !x.seq)
    if (mine) {
      dequeue(msg.clientId)
      place(Object.assign(mine, msg), msg.seq)
    } else place({ ...msg } as Item)
    if (msg.sender != "visitor") typing.hidden = true
    if (live) {
      if (msg.sender == "operator") online = true // someone is clearly there
      emit("message", msg)
    }
    markRead()
  }

  /** Send what waits: queued messages and events (idempotent by clientId), identify, contact. */
  function flush() {
    if (!ready) return
    for (const f of [...outbox, ...Object.values(once)]) if (!sentNow.has(f) && link?.send(f)) sentNow.add(f)
    for (const m of items) if (m.up && !m.up.x && !m.up.e) upload(m) // files chosen while offline wait here
  }

  function queue(f: Frame, m?: Item) {
    if (!link) return early.push(f) // not started yet: start() sends it
    if (f.type == "identify") once.identify = f
    else outbox.push(f), save()
    if (f.type == "message") place(m || { kind: "message", sender: "visitor", text: f.text, clientId: f.clientId })
    flush()
  }

  function addFiles(files: FileList) {
    for (const f of files) {
      const m: Item = { kind: "message", sender: "visitor", clientId: cid(), up: { f } }
      place(m)
    }
    flush()
  }

  /** Upload one file (progress shown, cancellable); once stored, its message joins the queue. */
  function upload(m: Item) {
    const u = m.up!
    const x = (u.x = new XMLHttpRequest())
    const body = new FormData()
    body.append("file", u.f)
    u.e = ""
    x.open("POST", base + "/api/v1/widget/uploads")
    x.setRequestHeader("Authorization", "Bearer " + store.t)
    x.upload.onprogress = (e) => (u.p!.value = e.loaded / e.total)
    x.responseType = "json"
    x.onloadend = () => {
      const r = x.response || {}
      const s = x.status
      delete u.x // no answer (offline): tried again once connected
      if (s == 201) delete m.up, (m.attachments = [r]), queue({ type: "message", clientId: m.clientId, attachments: [r.id] }, m)
      else if (s) (u.e = S(s == 413 ? T.TooLarge : s == 415 || s == 422 ? T.BadType : T.Failed)), row(m)
    }
    x.send(body)
    row(m)
  }

  function drop(m: Item) {
    m.up!.x?.abort()
    items = items.filter((x) => x != m)
    m.el!.remove()
  }

  const find2 = (id: string) => outbox.some((x) => x.clientId == id)

  function dequeue(clientId: string) {
    done.add(clientId)
    outbox = outbox.filter((x) => x.clientId != clientId)
    save()
  }

  function markRead() {
    if (isOpen && ready && doc.visibilityState == "visible" &&
        items.some((m) => m.seq! > vread && m.sender != "visitor")) {
      vread = lastSeq
      link?.send({ type: "read", seq: vread })
      refresh()
    }
  }

  function stopTyping() {
    if (typingAt) (typingAt = 0), link?.send({ type: "typing", active: false })
  }

  function submit(e: Event) {
    e.preventDefault()
    const text = ta.value.trim()
    if (text) ed ? link?.send({ type: "edit", id: ed.id, text }) : queue({ type: "message", text, clientId: cid() })
    ed = undefined
    ta.value = ""
    grow()
    stopTyping()
    ta.focus()
  }

  function grow() {
    ta.style.height = ""
    ta.style.height = Math.min(ta.scrollHeight + 2, 120) + "px"
  }

  // --- rendering --------------------------------------------------------------------------
  function find(test: (m: Item) => unknown) {
    return items.find(test)
  }

  /** Put an item where its seq says (pending ones last), keeping the view at the bottom. */
  function place(m: Item, seq?: number, old?: number) {
    items = items.filter((x) => x != m)
    if (seq) m.seq = seq
    const next = m.seq ? find((x) => !x.seq || x.seq > m.seq!) : undefined
    items.splice(next ? items.indexOf(next) : items.length, 0, m)
    const bottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80
    log.insertBefore(row(m), next?.el || null)
    if (!old && (bottom || m.sender == "visitor")) log.scrollTop = log.scrollHeight
  }

  function row(m: Item) {
    let el
    if (m.kind == "notice") {
      el = h("div", { className: "n" }, m.name == "closed" ? S(T.Closed) : m.name == "reopened" ? S(T.Reopened) : m.text!)
      // Once closed, the visitor may rate the conversation (stars or thumbs; a comment first if they like).
      const up = settings.ratings == "thumbs"
      if (m.name == "closed" && settings.ratings != "off" && !rated) {
        const ask = settings.rate[locale]
        const note = h("input")
        label(note, ask) // an optional comment, named by the question (no "Message" box twice)
        el = h("div", { className: "q" }, el, ask, note,
          ...(up ? ["👎", "👍"] : [..."12345"]).map((x, i) => {
            const b = h("button", { type: "button" }, up ? x : "★")
            label(b, x + (up ? "" : "/5"))
            on(b, "click", () => link?.send({ type: "rate", score: up ? i : +x, comment: note.value }))
            return b
          }))
      }
    } else {
      const mine = m.sender == "visitor"
      const meta = h("div", { className: "t" })
      if (m.sender == "ai") meta.append(h("span", { className: "ai" }, S(T.Ai)))
      else if (!mine && m.operatorName) meta.append(m.operatorName + " · ")
      if (m.createdAt) {
        const d = new Date(m.createdAt)
        // The time; with the date too for messages of another day (history of earlier visits).
        const day = d.toDateString() != new Date().toDateString() && ({ month: "short", day: "numeric" } as const)
        meta.append(d.toLocaleString(locale, { ...day, hour: "numeric", minute: "2-digit" }))
      }
      if (m.editedAt && !m.deletedAt) meta.append(" · " + S(T.Edited))
      if (mine) meta.append(" ", (m.st = h("i", { role: "img" })))
      const u = m.up
      const b = h("div", { className: "b", dir: "auto" })
      const btn = (k: T, f: () => void) => b.append(h("button", { type: "button", onclick: f }, S(k)))
      if (m.deletedAt) b.append(h("em", null, S(T.Deleted)))
      else if (u) {
        b.append(u.f.name + " ")
        u.e ? (b.append(h("b", { role: "alert" }, u.e)), btn(T.Retry, () => upload(m))) : b.append((u.p = h("progress")))
        btn(T.Cancel, () => drop(m))
      } else {
        for (const a of m.attachments || []) {
          const url = base + a.url
          b.append(h("a", { href: url, target: "_blank" },
                     /^image\//.test(a.contentType) ? h("img", { src: url, alt: a.name }) : a.name + " (" + Math.ceil(a.size / 1e3) + " KB)"))
        }
        md(m.text || "", b)
      }
      el = h("div", { className: mine ? "r v" : "r" }, b, meta)
    }
    m.el?.replaceWith(el)
    m.el = el
    state(m)
    return el
  }

  /** Receipts on our own messages: pending, sent, delivered, read (or failed). */
  function state(m: Item) {
    if (!m.st) return
    const [name, glyph, word] = m.failed ? ["failed", "!", T.Failed] : !m.seq ? ["pending", "…", T.Sending]
      : m.seq <= oread ? ["read", "✓✓", T.Read] : m.seq <= dseq ? ["delivered", "✓✓", T.Delivered] : ["sent", "✓", T.Sent]
    m.el!.dataset.state = name as string
    m.st.textContent = glyph as string
    label(m.st, (m.st.title = S(word as T)))
  }

  const states = () => items.forEach(state)

  function refresh() {
    const n = items.filter((m) => m.kind == "message" && m.sender != "visitor" && m.seq! > vread && !m.deletedAt).length
    label(launcher, isOpen ? S(T.Close) : n ? S(T.OpenUnread, n) : S(T.Open))
    launcher.setAttribute("aria-expanded", "" + isOpen)
    badge.textContent = "" + n
    badge.hidden = !n || isOpen
    openIcon.style.display = isOpen ? "none" : ""
    shutIcon.style.display = isOpen ? "" : "none"
    status.textContent = S(ready ? (online ? T.Online : T.Away) : T.Connecting)
    status.className = ready && online ? "s on" : "s"
    const w = !gm() // nothing to send before the visitor accepts (or before the mode is known)
    cf.hidden = store.a || !settings.consentButton
    away.hidden = w || !settings.offlineForm || online || (!!store.c && !thanks)
    tr.hidden = !(tr.textContent = mail)
    composer.hidden = w || !(pf.hidden = w || !pc || !!store.c || lastSeq > 0)
    if (thanks) away.replaceChildren(h("p", null, thanks))
    if (n != unread) emit("unread", (unread = n))
  }

  /** Settings from the project (welcome) and the options: colors, names, position, language. */
  function apply() {
    const c = settings.primaryColor
    if (/^#([\da-f]{3}){1,2}$/i.test(c)) {
      const n = parseInt(c.length < 5 ? c.replace(/\w/g, "$&$&") : c.slice(1), 16)
      host.style.setProperty("--c", c)
      // Text on the primary color: dark on light colors, so it stays readable.
      host.style.setProperty("--f", (n >> 16) * 0.299 + ((n >> 8) & 255) * 0.587 + (n & 255) * 0.114 > 170 ? "#111" : "#fff")
    }
    host.classList.toggle("left", settings.position == "bottom-left")
    const loc = pickLocale(o.locale, settings.locale, ...navigator.languages)
    if (loc != locale) {
      locale = loc
      S = strings()
      items.forEach(row)
      // Other languages than English come from the server (cached by the browser).
      if (loc != "en")
        fetch(base + "/widget/i18n/" + loc + ".txt")
          .then((r) => (r.ok ? r.text() : ""))
          .then((t) => {
            if (t && locale == loc) {
              S = strings(t.trim())
              items.forEach(row)
              apply()
            }
          }, () => {})
    }
    const name = settings.operatorName || "Support"
    panel.dir = rtl(loc) ? "rtl" : "ltr"
    panel.lang = loc
    title.textContent = name
    label(panel, S(T.ChatWith, name))
    label(log, S(T.Messages))
    label(minimize, S(T.Minimize))
    label(ta, S(T.Message))
    ta.placeholder = S(T.Placeholder)
    label(send, S(T.Send))
    label(clip, S(T.Attach))
    label(email, S(T.Email))
    email.placeholder = S(T.Email)
    awayText.textContent = settings.awayMessage || S(T.AwayForm)
    c1.textContent = c2.textContent = cp.textContent = settings.consentText || ""
    cb.textContent = settings.consentButton
    notify.textContent = S(T.Notify)
    if (pc) {
      label(pn, (pn.placeholder = pc.name))
      label(pe, (pe.placeholder = S(T.Email)))
      label(pt, (pt.placeholder = S(T.Message)))
      pb.textContent = pc.start
      pe.required = pc.mode[0] == "r"
    }
    welcome.replaceChildren()
    md(settings.welcomeMessage || "", welcome)
    welcome.parentElement!.hidden = !settings.welcomeMessage
    refresh()
  }

  function setOpen(v: boolean, focus?: boolean) {
    if (v == isOpen) return
    isOpen = v
    panel.hidden = !v
    host.classList.toggle("open", v)
    if (v) {
      fit()
      log.scrollTop = log.scrollHeight
      focus && ta.focus()
      markRead()
    } else if (root.activeElement) launcher.focus() // focus was inside: give it back to the launcher
    refresh()
    emit(v ? "open" : "close")
  }

  function reset() {
    for (const m of items) m.el?.remove()
    items = []
    lastSeq = vread = oread = dseq = evtMark = older = 0
  }

  function load(): Frame {
    try {
      return JSON.parse(localStorage.getItem(key)!) || {}
    } catch {
      return {}
    }
  }

  function save() {
    // Keep what other tabs queued (a tab closed before its ack is sent by the next page load).
    store.q = outbox.concat((load().q || []).filter((f: Frame) => !done.has(f.clientId) && !find2(f.clientId)))
    store.e = evtMark
    try {
      localStorage.setItem(key, JSON.stringify(store))
    } catch {
      // storage disabled: the session lasts as long as the page
    }
  }

  dark()
  apply()
  if (o.open) setOpen(true)
  const starting = setTimeout(start)

  return {
    open: setOpen,
    isOpen: () => isOpen,
    queue,
    destroy() {
      clearTimeout(starting)
      unlock?.()
      link?.stop()
      offs.forEach((f) => f())
      clearTimeout(idle)
      clearTimeout(typingOff)
      host.remove()
    },
  }
}
