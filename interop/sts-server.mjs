// A real subscriptions-transport-ws server (npm `subscriptions-transport-ws`, the legacy
// Apollo protocol, subprotocol `graphql-ws`) on loopback, port 0, for the preset tests.
// Prints `{"port":N}` on stdout once listening. Options as arguments:
//   --keep-alive MS   the server's `ka` interval (default 200)
// A connection_init whose payload holds `"deny": true` is refused (connection_error, then
// close 1011). Subscription `tick` yields a number every 50 ms.
import { SubscriptionServer } from "subscriptions-transport-ws";
import { execute, subscribe } from "graphql";
import { arg, schema } from "./schema.mjs";

const server = SubscriptionServer.create(
  {
    schema,
    execute,
    subscribe,
    keepAlive: arg("--keep-alive", 200),
    onConnect: (payload) => !(payload && payload.deny),
  },
  { host: "127.0.0.1", port: 0, path: "/graphql" },
);

server.server.on("listening", () => {
  process.stdout.write(JSON.stringify({ port: server.server.address().port }) + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
