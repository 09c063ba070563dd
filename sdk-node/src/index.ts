/**
 * PocketPing's Node.js SDK: the REST client, signed webhooks with ready-made receivers
 * (Express, Fastify, Web `Request`), the live event stream, and identity hashes.
 *
 * ```js
 * import { PocketPing } from "@pocketping/sdk";
 * const pp = new PocketPing({ secretKey: "sk_live_...", baseUrl: "https://chat.example.com" });
 * pp.onEvent((event, session) => console.log(event.name, session.id));
 * ```
 */

export { PocketPing } from "./client.js";
export type {
  CallOptions, EmitEventOptions, ListDeliveriesOptions, ListEventsOptions, ListMessagesOptions, ListSessionsOptions,
  ListenOptions, Logger, PocketPingOptions, SendMessageOptions, StreamOptions,
} from "./client.js";
export {
  APIConnectionError, AuthenticationError, ConflictError, InvalidRequestError, NotFoundError, PermissionDeniedError,
  PocketPingError, RateLimitError, ServerError, WebhookVerificationError,
} from "./errors.js";
export type { EventHandler, MessageHandler, WebhookEventHandler } from "./handlers.js";
export { PUBLIC_EVENT_TYPES } from "./models.js";
export type {
  Attachment, Consent, CustomEvent, Delivery, Erasure, ErasureStep, Event, EventList, ExportedSession, Identity,
  IdentityInput, JsonObject,
  Message, MessageList, PrivacyConsent,
  Project, PublicEventType, Sender, SentEvent, Session, SessionErasure, SessionList, VisitorErasure, VisitorExport,
  Webhook, WebhookEvent,
} from "./models.js";
export { expressMiddleware, fastifyPlugin, receiveWebhook, requestHandler } from "./receivers.js";
export type {
  ExpressMiddleware, FastifyPlugin, FastifyPluginOptions, FetchHandler, ReceiverAnswer, ReceiverOptions,
} from "./receivers.js";
export { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, sign, userHash, verifyWebhook } from "./signing.js";
export type { RawBody, SignatureSource, VerifyOptions } from "./signing.js";
export { VERSION } from "./version.js";
