// The one DOM helper: elements are built with properties and text children, never from HTML.

type Props = Record<string, unknown> | null | undefined

export const doc = document

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, ...kids: (Node | string)[]) {
  const el = doc.createElement(tag)
  for (const key in props) {
    const value = props[key]
    // aria-*, data-* and role are attributes; the rest are properties (className, hidden, type ...).
    if (/-|^role$/.test(key)) el.setAttribute(key, value as string)
    else (el as unknown as Record<string, unknown>)[key] = value
  }
  el.append(...kids)
  return el
}

/** An icon from one SVG path; decorative (the button around it carries the name). */
export function icon(d: string) {
  const ns = "http://www.w3.org/2000/svg"
  const svg = doc.createElementNS(ns, "svg")
  const path = doc.createElementNS(ns, "path")
  svg.setAttribute("viewBox", "0 0 24 24")
  svg.setAttribute("aria-hidden", "true")
  path.setAttribute("d", d)
  svg.append(path)
  return svg
}

export function on(target: EventTarget, type: string, fn: (e: any) => void): () => void {
  target.addEventListener(type, fn)
  return () => target.removeEventListener(type, fn)
}
