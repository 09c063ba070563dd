// Compiled by tests/sdk_node against the installed package: the ESM types resolve and fit.
import { PocketPing, PocketPingError, userHash, verifyWebhook } from "@pocketping/sdk";
import type { Event, Message, Session, SessionList, WebhookEvent } from "@pocketping/sdk";

declare const analytics: { track(name: string, data: unknown): void };

// The seed's example, typed.
const pp = new PocketPing({
  onEvent: (event, session) => {
    if (event.name === 'clicked_pricing') {
      analytics.track('pricing_view', event.data);
      console.log(`${session.metadata.country} visitor interested in ${event.data.plan}`);
    }
  }
});

export async function use(signal: AbortSignal): Promise<string[]> {
  const page: SessionList = await pp.listSessions({ status: "active", cursor: null, signal });
  const session: Session = await pp.getSession(page.sessions[0]!.id, { signal });
  const sent: Message = await pp.sendMessage(session.id, "Hi!", { operatorName: "Sarah", signal });
  await pp.emitEvent(session.id, "show_discount", { percent: 20 }, { signal });
  const messages = await pp.listMessages(session.id, { afterSeq: sent.seq - 1 });
  for await (const s of pp.iterSessions({ status: "closed" })) console.log(s.closedAt);
  pp.on("session.closed", (e, s) => console.log(e.type, e.data, s?.status));
  pp.on("clicked_pricing", (e, s) => console.log(e.name, e.data, s.metadata));
  pp.onEvent("clicked_pricing", async (e: Event, s: Session) => console.log(e.seq, s.id));
  pp.onMessage("visitor", (m, s) => console.log(m.text, s.id));
  pp.onMessage((m: Message) => console.log(m.sender));
  await pp.identify(session.id, { id: "user_42", email: "ana@example.com" });
  await pp.eraseSession(session.id);
  const event: WebhookEvent = verifyWebhook("{}", "t=1,v1=00", "whsec_x", { toleranceSeconds: 60 });
  try {
    await pp.closeSession(event.id);
  } catch (error) {
    if (error instanceof PocketPingError) console.log(error.status, error.code, error.message);
  }
  await pp.listen({ signal, types: ["event.triggered"] });
  return [userHash("secret", "user_42"), ...messages.messages.map((m) => m.text)];
}
