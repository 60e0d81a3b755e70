// A scripted fake Vireo sync server for the client tests: a `ws` WebSocketServer on 127.0.0.1,
// port 0. Tests pull the client's messages one by one (conn.next(type)) and push the frames they
// want (conn.send(obj)); nothing is answered automatically unless asked (handshake()).

import { WebSocketServer } from "ws";
import WebSocket from "ws";

export { WebSocket };

class FakeConn {
    constructor(ws, req) {
        this.ws = ws;
        this.path = req.url;
        this.received = [];
        this.waiters = [];
        this.closed = false;
        this.closedPromise = new Promise((resolve) => {
            ws.on("close", (code, reason) => {
                this.closed = true;
                resolve({ code, reason: reason.toString() });
                for (const w of this.waiters.splice(0)) w.reject(new Error("connection closed"));
            });
        });
        ws.on("message", (data) => {
            const msg = JSON.parse(data.toString());
            this.received.push(msg);
            this._pump();
        });
    }

    _pump() {
        for (let i = 0; i < this.waiters.length; i++) {
            const w = this.waiters[i];
            const j = this.received.findIndex((m) => w.match(m));
            if (j >= 0) {
                const [m] = this.received.splice(j, 1);
                this.waiters.splice(i--, 1);
                clearTimeout(w.timer);
                w.resolve(m);
            }
        }
    }

    /** The next client message (of `type` if given, skipping pings unless asked for). */
    next(type, timeoutMs = 2000) {
        const match = type ? (m) => m.type === type : (m) => m.type !== "ping";
        return new Promise((resolve, reject) => {
            const w = { match, resolve, reject };
            w.timer = setTimeout(() => {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                reject(new Error(`timed out waiting for ${type ?? "a message"}`));
            }, timeoutMs);
            this.waiters.push(w);
            this._pump();
        });
    }

    /** Resolves with true if no message of `type` arrives within ms. */
    async none(type, ms) {
        try {
            await this.next(type, ms);
            return false;
        } catch {
            return true;
        }
    }

    send(obj) {
        this.ws.send(typeof obj === "string" ? obj : JSON.stringify(obj));
    }

    /** Reads the connect message and answers connected; returns the connect message. */
    async handshake({ version = 0, resumed = false } = {}) {
        const c = await this.next("connect");
        this.send({ type: "connected", sessionId: c.sessionId, version, protocolVersion: 1,
                    resumed, serverVersion: "fake/0" });
        return c;
    }

    transition(startVersion, endVersion, modifications = []) {
        this.send({ type: "transition", startVersion, endVersion, modifications });
    }

    close(code = 1000, reason = "") {
        this.ws.close(code, reason);
        return this.closedPromise;
    }

    terminate() {
        this.ws.terminate();
    }
}

export async function startFakeServer() {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((resolve) => wss.once("listening", resolve));
    const conns = [];
    const waiting = [];
    wss.on("connection", (ws, req) => {
        const c = new FakeConn(ws, req);
        conns.push(c);
        const w = waiting.shift();
        if (w) w(c);
    });
    let taken = 0;
    return {
        url: `http://127.0.0.1:${wss.address().port}`,
        conns,
        /** The next connection not yet returned by this function. */
        connection(timeoutMs = 3000) {
            if (taken < conns.length) return Promise.resolve(conns[taken++]);
            return new Promise((resolve, reject) => {
                const w = (c) => {
                    clearTimeout(t);
                    taken++;
                    resolve(c);
                };
                const t = setTimeout(() => {
                    waiting.splice(waiting.indexOf(w), 1);
                    reject(new Error("no connection"));
                }, timeoutMs);
                waiting.push(w);
            });
        },
        async close() {
            for (const c of conns) c.terminate();
            await new Promise((resolve) => wss.close(resolve));
        },
    };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves after pending microtasks and I/O callbacks have run. */
export const tick = () => new Promise((r) => setImmediate(r));
