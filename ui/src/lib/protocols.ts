// The application-protocol presets an endpoint can speak (heartline_core::Protocol: the names
// are the configuration file's), and the one a URL or subprotocol suggests.
import type { Protocol } from "./bindings";

export interface ProtocolChoice {
  name: Protocol;
  label: string;
}

export const PROTOCOLS: ProtocolChoice[] = [
  { name: "websocket", label: "WebSocket (no application protocol)" },
  { name: "socketio", label: "Socket.IO 4 (Engine.IO 4)" },
  { name: "socketio3", label: "Socket.IO 2 (Engine.IO 3)" },
  { name: "graphql-transport-ws", label: "GraphQL over WebSocket (graphql-transport-ws)" },
  { name: "subscriptions-transport-ws", label: "GraphQL subscriptions-transport-ws (legacy)" },
  { name: "mqtt", label: "MQTT 3.1.1" },
  { name: "mqtt5", label: "MQTT 5" },
  { name: "actioncable", label: "Rails ActionCable" },
  { name: "pusher", label: "Pusher protocol 7" },
  { name: "phoenix", label: "Phoenix Channels v2" },
  { name: "signalr", label: "ASP.NET Core SignalR (JSON)" },
  { name: "stomp", label: "STOMP 1.2" },
];

const BY_SUBPROTOCOL: Record<string, Protocol> = {
  "graphql-transport-ws": "graphql-transport-ws",
  "graphql-ws": "subscriptions-transport-ws",
  // MQTT 3.1.1 and 5 share the subprotocol; 3.1.1 is the one every broker accepts.
  mqtt: "mqtt",
  "mqttv3.1": "mqtt",
  "actioncable-v1-json": "actioncable",
  "v10.stomp": "stomp",
  "v11.stomp": "stomp",
  "v12.stomp": "stomp",
};

/** The preset a URL's shape or an offered subprotocol suggests (the same rules as
 * `heartline_core::protocol::suggest`), or null. */
export function suggestProtocol(url: string, subprotocols: string[]): Protocol | null {
  for (const p of subprotocols) {
    const found = BY_SUBPROTOCOL[p.toLowerCase()];
    if (found) return found;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const path = parsed.pathname.replace(/\/+$/, "");
  if (path.endsWith("/socket.io") || path.includes("/socket.io/")) {
    return parsed.searchParams.get("EIO") === "3" ? "socketio3" : "socketio";
  }
  if (path.endsWith("/cable")) return "actioncable";
  if (path.endsWith("/socket/websocket") || path.endsWith("/live/websocket")) return "phoenix";
  if (path.startsWith("/app/") && parsed.searchParams.has("protocol")) return "pusher";
  if (path.endsWith("/mqtt")) return "mqtt";
  return null;
}

/** The person's name of a preset. */
export function protocolLabel(name: Protocol): string {
  return PROTOCOLS.find((p) => p.name === name)?.label ?? name;
}
