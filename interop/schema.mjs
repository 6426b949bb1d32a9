// What the GraphQL interop servers share: their schema (query `hello` → "world",
// subscription `tick` yielding a number every 50 ms) and how they read a numeric option.
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";

/** The numeric value after `name` on the command line, or `fallback`. */
export const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const schema = new GraphQLSchema({
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
