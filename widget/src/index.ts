// window.PocketPing: the only global. Also starts itself from the script tag's data-* attributes.

import { doc, on } from "./dom"
import { cid, type Frame, mount, type Options, type Widget } from "./widget"

type Handler = (...args: any[]) => void

declare global {
  interface Window {
    PocketPing?: unknown
  }
}

if (!window.PocketPing) {
  const script = doc.currentScript as HTMLScriptElement | null
  // The server that served this script is the default chat server.
  const origin = script?.src ? new URL(script.src).origin : location.origin
  const handlers: Record<string, Set<Handler>> = {}
  const early: Frame[] = []
  let w: Widget | undefined

  const add = (key: string, fn: Handler) => {
    ;(handlers[key] ||= new Set()).add(fn)
    return () => void handlers[key].delete(fn)
  }
  const call = (key: string, ...args: unknown[]) =>
    handlers[key]?.forEach((fn) => {
      try {
        fn(...args)
      } catch (e) {
        console.error(e) // a broken handler must not break the chat
      }
    })
  // Calls made before init (or before the connection is up) wait in the widget's queue.
  const queue = (f: Frame) => (w ? w.queue(f) : early.push(f))

  const api = {
    init(options: Options) {
      if (w) return
      if (!options?.publicKey) throw new Error("PocketPing.init: publicKey is required")
      w = mount({ serverUrl: origin, ...options }, call, (f) => {
        const event = { name: f.name, data: f.data, createdAt: f.createdAt }
        call("e:" + f.name, f.data, event)
        call("e:*", f.data, event)
      }, early.splice(0))
    },
    open: () => w?.open(true, true),
    close: () => w?.open(false),
    toggle: () => w?.open(!w.isOpen(), true),
    trigger: (name: string, data?: object) => void queue({ type: "event", name, data: data || {}, clientId: cid() }),
    onEvent: (name: string, fn: Handler) => add("e:" + name, fn),
    on: (type: string, fn: Handler) => add(type, fn),
    identify: (identity: object) => void queue({ ...identity, type: "identify" }),
    destroy() {
      w?.destroy()
      w = undefined
    },
  }
  window.PocketPing = api

  // The one-line embed: <script src=".../widget.js" data-public-key="pk_live_..." defer></script>
  const data = script?.dataset
  if (data?.publicKey) {
    const go = () => api.init({ ...data, open: data.open != null && data.open != "false" } as Options)
    doc.readyState == "loading" ? on(doc, "DOMContentLoaded", go) : go()
  }
}
