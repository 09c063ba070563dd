// Compiled by tests/sdk_node against the installed package: the CommonJS types resolve and fit.
import sdk = require("@pocketping/sdk");

const pp = new sdk.PocketPing({ secretKey: "sk_live_x", baseUrl: "https://chat.example.com", timeoutMs: 5000, retries: 2 });
const handler: (request: Request) => Promise<Response> = pp.requestHandler();
export = { pp, handler, hash: sdk.userHash("s", "u") as string };
