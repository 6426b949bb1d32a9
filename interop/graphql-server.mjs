// A real graphql-transport-ws server (npm `graphql-ws` over `ws`, schema from `graphql`) on
// loopback, port 0, for the protocol-preset tests. Prints `{"port":N}` on stdout once
// listening. Options as arguments:
//   --init-wait MS   connectionInitWaitTimeout (default 3000)
// A connection whose URL holds `deny` is refused in onConnect (close 4403 Forbidden).
// Subscription `tick` yields a number every 50 ms.
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: { hello: { type: GraphQLString, resolve: () => "world" } },
  }),
  subscription: new GraphQLObjectType({
    name: "Subscription",
    fields: {
      tick: {
        type: GraphQLInt,
        subscribe: async function* () {
          for (let i = 0; i < 100000; i++) {
            await sleep(50);
            yield { tick: i };
          }
        },
      },
    },
  }),
});

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
