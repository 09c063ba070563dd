// The WebSocket link: connects, says hello, reconnects with jittered exponential backoff, wakes up
// on `online` / `visibilitychange`, and detects dead sockets (sleep, network change) with pings.

import { doc, on } from "./dom"

export interface Link {
  send(frame: object): boolean
  stop(): void
}

/** Close codes that need a configuration change: retrying cannot help. */
const FATAL = [4001, 4003]

export function connect(
  url: string,
  hello: () => object,
  onFrame: (frame: any) => void,
  onDown: (fatal?: boolean) => void,
): Link {
  let ws: WebSocket | null = null
  let attempt = 0
  let lastRx = 0
  let timer = 0
  let stopped = false
  const off = [
    on(window, "online", () => wake()),
    on(window, "offline", () => drop()),
    on(doc, "visibilitychange", () => doc.visibilityState == "visible" && wake()),
  ]
  const beat = setInterval(() => check(55e3), 25e3)

  function open() {
    clearTimeout(timer)
    if (stopped || ws) return
    const sock = (ws = new WebSocket(url))
    sock.onopen = () => send(hello())
    sock.onmessage = (e) => {
      lastRx = Date.now()
      attempt = 0
      let frame
      try {
        frame = JSON.parse(e.data)
      } catch {
        return
      }
      onFrame(frame)
    }
    sock.onclose = (e) => closed(sock, e.code)
  }

  function closed(sock: WebSocket, code: number) {
    if (sock != ws) return
    ws = null
    const fatal = FATAL.includes(code)
    onDown(fatal)
    if (fatal) stopped = true // the server's error frame said why (logged to the console)
    else if (!stopped) {
      // Full jitter: 0.5x-1x of 0.5 s, 1 s, 2 s ... up to 30 s.
      const delay = Math.min(3e4, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2)
      timer = setTimeout(open, delay) as unknown as number
    }
  }

  /** Give up on the current socket at once (a dead socket may take minutes to report it). */
  function drop() {
    const sock = ws
    if (sock) {
      sock.onclose = sock.onmessage = null
      sock.close()
      closed(sock, 1006)
    }
  }

  /** Something changed (network back, tab visible): reconnect now, or prove the socket alive. */
  function wake() {
    if (!ws) {
      attempt = 0
      open()
    } else {
      const t = Date.now()
      send({ type: "ping", t }) && setTimeout(() => lastRx < t && drop(), 5e3)
    }
  }

  /** Drop the socket if nothing arrived for `quiet` ms, else ping it. */
  function check(quiet: number) {
    if (ws?.readyState == 1) Date.now() - lastRx > quiet ? drop() : send({ type: "ping" })
  }

  function send(frame: object) {
    if (ws?.readyState != 1) return false
    ws.send(JSON.stringify(frame))
    return true
  }

  open()
  return {
    send,
    stop() {
      stopped = true
      clearTimeout(timer)
      clearInterval(beat)
      off.forEach((f) => f())
      drop()
    },
  }
}
