/** A small Server-Sent Events parser (the stream endpoint's format), fed text as it arrives. */

export interface SSEMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export class SSEParser {
  private buffer = "";
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] = [];
  private hasId = false;
  private lastWasCR = false;

  /** Feed a chunk of text; get the messages it completed. A message with only `id:` counts. */
  feed(chunk: string): SSEMessage[] {
    const out: SSEMessage[] = [];
    let text = chunk;
    if (this.lastWasCR && text.startsWith("\n")) text = text.slice(1); // the \n of a \r\n split across chunks
    this.lastWasCR = text.endsWith("\r");
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? "";
    for (const line of lines) this.line(line, out);
    return out;
  }

  private line(line: string, out: SSEMessage[]): void {
    if (line === "") {
      if (this.data.length > 0 || this.hasId) out.push({ id: this.id, event: this.event, data: this.data.join("\n") });
      this.event = undefined;
      this.data = [];
      this.hasId = false;
      return;
    }
    if (line.startsWith(":")) return;
    const at = line.indexOf(":");
    const name = at < 0 ? line : line.slice(0, at);
    let value = at < 0 ? "" : line.slice(at + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "event") this.event = value;
    else if (name === "id" && !value.includes("\0")) {
      this.id = value;
      this.hasId = true;
    }
  }
}
