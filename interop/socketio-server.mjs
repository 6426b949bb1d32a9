// A real Socket.IO 4 server (npm `socket.io`) on loopback, port 0, for the protocol-preset
// tests. Prints `{"port":N}` on stdout once listening. Options as arguments:
//   --ping-interval MS --ping-timeout MS   Engine.IO heartbeat (server pings, client answers)
//   --require-token T                      refuse clients whose auth payload lacks token T
// Clients that connect with `?deny=1` in the URL, or without the required token, are refused
// by an auth middleware (Socket.IO `44` connect_error). Connected clients receive a `tick`
// event every 100 ms.
import { createServer } from "node:http";
import { Server } from "socket.io";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

const http = createServer();
const io = new Server(http, {
  transports: ["websocket"],
  pingInterval: arg("--ping-interval", 25000),
  pingTimeout: arg("--ping-timeout", 20000),
});

const required = process.argv.includes("--require-token")
  ? process.argv[process.argv.indexOf("--require-token") + 1]
  : undefined;

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (socket.handshake.query.deny || (required !== undefined && token !== required)) {
    next(new Error("not authorized: missing token"));
  } else {
    next();
  }
});

io.on("connection", (socket) => {
  let n = 0;
  const timer = setInterval(() => socket.emit("tick", n++), 100);
  socket.on("disconnect", () => clearInterval(timer));
});

http.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: http.address().port }) + "\n");
});

// The test kills us; also leave when our parent goes away.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
