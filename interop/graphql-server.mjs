// A real graphql-transport-ws server (npm `graphql-ws` over `ws`, schema from `graphql`) on
// loopback, port 0, for the protocol-preset tests. Prints `{"port":N}` on stdout once
// listening. Options as arguments:
//   --init-wait MS   connectionInitWaitTimeout (default 3000)
// A connection whose URL holds `deny` is refused in onConnect (close 4403 Forbidden).
// Subscription `tick` yields a number every 50 ms.
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { arg, schema } from "./schema.mjs";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/graphql" });
useServer(
  {
    schema,
    connectionInitWaitTimeout: arg("--init-wait", 3000),
    onConnect: (ctx) => !ctx.extra.request.url.includes("deny"),
  },
  wss,
);

wss.on("listening", () => {
  process.stdout.write(JSON.stringify({ port: wss.address().port }) + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
