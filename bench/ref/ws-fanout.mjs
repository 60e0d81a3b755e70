// bench/ref/ws-fanout.mjs: the fan-out baseline, a minimal Node `ws` broadcast server speaking
// just enough of Vireo's sync protocol for the loadgen's fanout scenario: `modifyQuerySet` gets an
// initial transition, a `mutation` is broadcast (its args, with `seq`) as a transition to every
// subscriber, then answered. No storage, no queries: the cost of pushing one frame per socket.
// Usage: node bench/ref/ws-fanout.mjs  (prints "listening on http://127.0.0.1:PORT")
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/api/sync" });
const subs = new Set();
let version = 0;
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const m = JSON.parse(data);
    if (m.type === "connect") {
      ws.send(JSON.stringify({ type: "connected", sessionId: m.sessionId, version }));
    } else if (m.type === "modifyQuerySet") {
      subs.add(ws);
      const mods = m.add.map((q) => ({ type: "QueryUpdated", queryId: q.queryId, value: null }));
      ws.send(JSON.stringify({ type: "transition", startVersion: version, endVersion: version, modifications: mods }));
    } else if (m.type === "mutation") {
      version++;
      const msg = JSON.stringify({
        type: "transition", startVersion: version - 1, endVersion: version,
        modifications: [{ type: "QueryUpdated", queryId: 1, value: { _id: "x", ...m.args } }],
      });
      for (const s of subs) s.send(msg);
      ws.send(JSON.stringify({ type: "mutationResponse", requestId: m.requestId, success: true, value: null, version }));
    }
  });
  ws.on("close", () => subs.delete(ws));
});
wss.on("listening", () => console.log(`listening on http://127.0.0.1:${wss.address().port}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
