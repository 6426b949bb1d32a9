import { describe, expect, it } from "vitest";
import { ALL_PROTOCOLS } from "./bindings";
import { PROTOCOLS, protocolLabel, suggestProtocol } from "./protocols";

describe("suggestProtocol", () => {
  it.each([
    ["ws://h/socket.io/?EIO=4&transport=websocket", [], "socketio"],
    ["ws://h/socket.io/?EIO=3&transport=websocket", [], "socketio3"],
    ["wss://h/cable", [], "actioncable"],
    ["wss://h/socket/websocket?vsn=2.0.0", [], "phoenix"],
    ["wss://ws.pusherapp.com/app/abc?protocol=7&client=js", [], "pusher"],
    ["ws://h/graphql", ["graphql-transport-ws"], "graphql-transport-ws"],
    ["ws://h/graphql", ["graphql-ws"], "subscriptions-transport-ws"],
    ["ws://h/", ["mqtt"], "mqtt"],
    ["ws://h/ws", ["v12.stomp"], "stomp"],
    ["ws://h/feed", [], null],
    ["not a url", [], null],
  ])("%s %j → %s", (url, subs, expected) => {
    expect(suggestProtocol(url, subs as string[])).toBe(expected);
  });

  it("suggests only names the list offers", () => {
    const names = new Set(PROTOCOLS.map((p) => p.name));
    for (const url of ["ws://h/socket.io/", "ws://h/cable", "ws://h/socket/websocket", "ws://h/mqtt"]) {
      const s = suggestProtocol(url, []);
      expect(s !== null && names.has(s)).toBe(true);
    }
    expect(protocolLabel("mqtt")).toBe("MQTT 3.1.1");
  });

  it("lists every preset the app knows, each once", () => {
    expect(PROTOCOLS.map((p) => p.name)).toEqual([...ALL_PROTOCOLS]);
  });
});
