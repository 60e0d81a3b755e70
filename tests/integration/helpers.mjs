// Shared helpers for the integration suites: start a real `vireo` process on a fresh copy of a
// fixture app, talk to it over HTTP (node:http, no pooling) and raw sockets, build/parse
// WebSocket frames, run CLI commands. Every process started here is killed on exit, even when a
// test fails or times out.
import { spawn, execFile } from "node:child_process";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import * as nodeTestHooks from "node:test";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, "../..");
export const APPS = path.join(here, "apps");
export const VIREO_BIN = process.env.VIREO_BIN || path.join(REPO, "vireo");

const children = new Set();
const tempDirs = new Set();

function killAll() {
    for (const c of children) {
        try {
            c.kill("SIGKILL");
        } catch {
            /* already gone */
        }
    }
    for (const d of tempDirs) {
        try {
            fs.rmSync(d, { recursive: true, force: true });
        } catch {
            /* best effort */
        }
    }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
        killAll();
        process.exit(130);
    });
}

export function childEnv(extra = {}) {
    const env = { ...process.env, ...extra };
    const esbuild = path.join(REPO, "node_modules/.bin/esbuild");
    if (!env.VIREO_ESBUILD && fs.existsSync(esbuild)) env.VIREO_ESBUILD = esbuild;
    delete env.VIREO_ADMIN_KEY;
    if (extra.VIREO_ADMIN_KEY) env.VIREO_ADMIN_KEY = extra.VIREO_ADMIN_KEY;
    return env;
}

export const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: /;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A process's resident set (VmRSS), in KiB. */
export function rssKiB(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return Number(m[1]);
}

/* What copyApp leaves behind: an app's local state (its database, admin key and last bundle,
 * e.g. the data `make demo` left in examples/chat) and installed packages. A test must never
 * read a developer's data. */
const SKIP_IN_COPY = new Set([".vireo", "node_modules"]);

/* Copies the app folder src into dst (created if missing), without SKIP_IN_COPY at any depth. */
export function copyApp(src, dst) {
    fs.cpSync(src, dst, {
        recursive: true,
        filter: (p) => !path.relative(src, p).split(path.sep).some((part) => SKIP_IN_COPY.has(part)),
    });
}

/* A fresh temp dir (removed at exit). With `from`, a copy of that app folder (a fixture app name
 * under tests/integration/apps, or an absolute path) made by copyApp. */
export function tempDir(from) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vireo-it-"));
    tempDirs.add(dir);
    if (from) copyApp(path.isAbsolute(from) ? from : path.join(APPS, from), dir);
    return dir;
}

/* Polls fn() until it returns a truthy value (or stops throwing), at most `timeout` ms. */
export async function waitFor(fn, { timeout = 5000, interval = 50, what = "condition" } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
            last = v;
        } catch (e) {
            if (e && e.fatal) throw e;
            last = e;
        }
        if (Date.now() > end)
            throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
        await sleep(interval);
    }
}

/* --- servers --- */

export class Server {
    constructor(proc) {
        this.proc = proc;
        this.stdout = "";
        this.stderr = "";
        this.exitCode = undefined;
        this.exitSignal = undefined;
        /* Resolves once the process exited and its output is read: "exit" can come before the
         * last of stdout/stderr, "close" comes after both (or 2 s after "exit", should a child
         * of the server still hold the pipes). */
        this.exited = new Promise((resolve) => {
            const done = () => resolve({ code: this.exitCode, signal: this.exitSignal });
            proc.on("exit", (code, signal) => {
                this.exitCode = code;
                this.exitSignal = signal;
                children.delete(proc);
                setTimeout(done, 2000).unref();
            });
            proc.on("close", done);
        });
        proc.stdout.setEncoding("utf8");
        proc.stderr.setEncoding("utf8");
        proc.stdout.on("data", (d) => (this.stdout += d));
        proc.stderr.on("data", (d) => (this.stderr += d));
    }

    get url() {
        return `http://127.0.0.1:${this.port}`;
    }

    async waitReady(timeout = 20000) {
        await waitFor(
            () => {
                if (this.exitCode !== undefined || this.exitSignal)
                    throw Object.assign(new Error(`vireo exited (${this.exitCode ?? this.exitSignal}) before it was ready\nstdout: ${this.stdout}\nstderr: ${this.stderr}`), { fatal: true });
                const m = /listening on http:\/\/[^:\s]+:(\d+)/.exec(this.stdout);
                if (!m || !/admin key:.*\n/.test(this.stdout)) return false;
                // the log's "ready" line: whatever the start logged (stderr) is read by then
                if (!new RegExp(`\\[dev\\] ready on http://[^:\\s]+:${m[1]}\\n`).test(this.stderr)) return false;
                this.port = Number(m[1]);
                // printed only by the start that created it: read it where `vireo run` does
                this.adminKey = fs.readFileSync(path.join(this.dir, ".vireo/admin_key"), "utf8").trim();
                return true;
            },
            { timeout, interval: 20, what: "the 'listening on' line" },
        ).catch((e) => {
            const msg = e.message.includes("exited") ? e.message : `${e.message}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`;
            throw new Error(msg);
        });
        return this;
    }

    /* Resolves when stderr matches re (checked from `from` on). */
    waitStderr(re, { timeout = 5000, from = 0 } = {}) {
        return waitFor(() => re.exec(this.stderr.slice(from)), { timeout, interval: 25, what: `stderr to match ${re}` })
            .catch((e) => {
                e.message += `\nvireo stderr tail:\n${this.stderr.slice(Math.max(from, this.stderr.length - 1500))}`;
                throw e;
            });
    }

    /* SIGTERM (or `signal`), then SIGKILL after `timeout`; returns {code, signal}. Throws if
     * the server's stderr holds a sanitizer report (ASan/UBSan builds). */
    async stop(signal = "SIGTERM", timeout = 6000) {
        if (this.exitCode === undefined && !this.exitSignal) {
            this.proc.kill(signal);
            const t = setTimeout(() => this.proc.kill("SIGKILL"), timeout);
            await this.exited;
            clearTimeout(t);
        }
        const m = SANITIZER_RE.exec(this.stderr);
        if (m) throw new Error(`sanitizer report in vireo's stderr:\n${this.stderr.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
        return { code: this.exitCode, signal: this.exitSignal };
    }

    post(p, body, opts) {
        return request(this.port, "POST", p, body, opts);
    }

    get(p, opts) {
        return request(this.port, "GET", p, undefined, opts);
    }

    call(kind, fnPath, args, opts) {
        const body = args === undefined ? { path: fnPath } : { path: fnPath, args };
        return request(this.port, "POST", `/api/${kind}`, body, opts);
    }
    query(p, a, o) { return this.call("query", p, a, o); }
    mutation(p, a, o) { return this.call("mutation", p, a, o); }
    action(p, a, o) { return this.call("action", p, a, o); }
    admin(fnPath, args = {}, key = this.adminKey) {
        const headers = key === null ? {} : { Authorization: `Bearer ${key}` };
        return request(this.port, "POST", "/api/admin/run", { path: fnPath, args }, { headers });
    }

    /* The value of a successful call, or throws with the error. */
    async value(kind, fnPath, args) {
        const r = await this.call(kind, fnPath, args);
        if (r.status !== 200 || !r.json || r.json.status !== "success")
            throw new Error(`${kind} ${fnPath} failed: HTTP ${r.status} ${r.text}`);
        return r.json.value;
    }
}

/* Spawns `vireo <cmd> <dir> --port 0 ...args` and waits for the ready line. */
export async function startServer(dir, { cmd = "dev", args = [], env = {}, timeout = 20000 } = {}) {
    const s = spawnServer(dir, { cmd, args, env });
    await s.waitReady(timeout);
    return s;
}

export function spawnServer(dir, { cmd = "dev", args = [], env = {} } = {}) {
    const proc = spawn(VIREO_BIN, [cmd, dir, "--port", "0", ...args], {
        env: childEnv(env),
        stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(proc);
    const s = new Server(proc);
    s.dir = dir;
    proc.on("error", (e) => {
        s.stderr += `spawn error: ${e.message}\n`;
        s.exitCode = -1;
    });
    return s;
}

/* Runs `vireo ...args` to completion: {code, signal, stdout, stderr}. */
export function runCli(args, { cwd, env = {}, timeout = 15000 } = {}) {
    return new Promise((resolve) => {
        const p = execFile(VIREO_BIN, args, { cwd, env: childEnv(env), timeout, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
            children.delete(p);
            const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
            resolve({ code, signal: err && err.signal, stdout: String(stdout), stderr: String(stderr) });
        });
        children.add(p);
    });
}

/* --- HTTP --- */

/* One request on a fresh connection: {status, headers, text, json}. body: object (JSON-encoded),
 * string or Buffer. */
export function request(port, method, p, body, { headers = {}, timeout = 10000 } = {}) {
    return new Promise((resolve, reject) => {
        let data;
        const h = { ...headers };
        if (body !== undefined) {
            data = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
            if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["Content-Type"] = "application/json";
            h["Content-Length"] = data.length;
        }
        const req = http.request({ host: "127.0.0.1", port, method, path: p, headers: h, agent: false }, (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => {
                clearTimeout(timer);
                const text = Buffer.concat(chunks).toString("utf8");
                let json;
                try {
                    json = JSON.parse(text);
                } catch {
                    json = undefined;
                }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
            res.on("error", reject);
        });
        const timer = setTimeout(() => {
            req.destroy(new Error(`${method} ${p}: no complete answer within ${timeout} ms`));
        }, timeout);
        req.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        if (data) req.write(data);
        req.end();
    });
}

/* --- raw sockets --- */

export class RawConn {
    static open(port, timeout = 5000) {
        return new Promise((resolve, reject) => {
            const sock = net.connect({ host: "127.0.0.1", port });
            const t = setTimeout(() => {
                sock.destroy();
                reject(new Error("connect timeout"));
            }, timeout);
            sock.once("connect", () => {
                clearTimeout(t);
                resolve(new RawConn(sock));
            });
            sock.once("error", (e) => {
                clearTimeout(t);
                reject(e);
            });
        });
    }

    constructor(sock) {
        this.sock = sock;
        this.store = Buffer.alloc(0); /* received bytes in [0, len), room after them */
        this.len = 0;
        this.closed = false;
        this.error = null;
        this.waiters = new Set();
        sock.on("data", (d) => {
            this.append(d);
            this.wake();
        });
        sock.on("error", (e) => {
            this.error = e;
            this.wake();
        });
        sock.on("close", () => {
            this.closed = true;
            this.wake();
        });
    }

    /* The bytes received so far, as a view: each chunk is copied once as it arrives (a
     * Buffer.concat per chunk copied the whole of a 15 MiB response ~240 times, enough CPU to
     * delay a test's own timers on a loaded machine). A view taken earlier keeps its bytes. */
    get buf() {
        return this.store.subarray(0, this.len);
    }

    set buf(b) {
        this.store = b;
        this.len = b.length;
    }

    append(d) {
        if (this.len + d.length > this.store.length) {
            const grown = Buffer.allocUnsafe(Math.max(2 * this.store.length, this.len + d.length, 65536));
            this.store.copy(grown, 0, 0, this.len);
            this.store = grown;
        }
        d.copy(this.store, this.len);
        this.len += d.length;
    }

    wake() {
        for (const w of [...this.waiters]) w();
    }

    write(data) {
        return new Promise((resolve) => {
            if (this.closed || this.sock.destroyed) return resolve(false);
            this.sock.write(data, (err) => resolve(!err));
        });
    }

    /* Resolves with pred(this)'s first truthy value; rejects after timeout. */
    waitFor(pred, timeout = 5000, what = "data") {
        return new Promise((resolve, reject) => {
            const check = () => {
                let v;
                try {
                    v = pred(this);
                } catch (e) {
                    done();
                    reject(e);
                    return;
                }
                if (v) {
                    done();
                    resolve(v);
                }
            };
            const t = setTimeout(() => {
                done();
                reject(new Error(`timed out after ${timeout} ms waiting for ${what}; got ${this.buf.length} bytes: ${JSON.stringify(this.buf.subarray(0, 300).toString("latin1"))}${this.closed ? " (closed)" : ""}`));
            }, timeout);
            const done = () => {
                clearTimeout(t);
                this.waiters.delete(check);
            };
            this.waiters.add(check);
            check();
        });
    }

    /* n complete HTTP responses from the start of the buffer. */
    async responses(n, timeout = 5000) {
        return this.waitFor((c) => {
            const r = parseResponses(c.buf);
            if (r.responses.length >= n) return r.responses;
            if (c.closed) {
                const all = parseResponses(c.buf, true);
                if (all.responses.length >= n) return all.responses;
                throw new Error(`connection closed after ${all.responses.length} of ${n} responses; buffer: ${JSON.stringify(c.buf.toString("latin1").slice(0, 400))}`);
            }
            return null;
        }, timeout, `${n} HTTP responses`);
    }

    waitClosed(timeout = 5000) {
        return this.waitFor((c) => c.closed || (c.error && c.error.code === "ECONNRESET"), timeout, "the server to close the connection");
    }

    destroy() {
        this.sock.destroy();
    }
}

/* Parses consecutive HTTP/1.1 responses: {responses: [{status, reason, headers, body}], rest}.
 * With atEof, a response without length takes the rest of the buffer. */
export function parseResponses(buf, atEof = false) {
    const responses = [];
    let off = 0;
    for (;;) {
        const end = buf.indexOf("\r\n\r\n", off);
        if (end < 0) break;
        const head = buf.subarray(off, end).toString("latin1").split("\r\n");
        const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head[0]);
        if (!m) throw new Error(`bad status line: ${JSON.stringify(head[0])}`);
        const status = Number(m[1]);
        const headers = {};
        for (const line of head.slice(1)) {
            const i = line.indexOf(":");
            if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        let pos = end + 4;
        let body;
        if ((status >= 100 && status < 200) || status === 204 || status === 304) {
            body = Buffer.alloc(0);
        } else if (/chunked/i.test(headers["transfer-encoding"] || "")) {
            const parts = [];
            let ok = false;
            for (;;) {
                const le = buf.indexOf("\r\n", pos);
                if (le < 0) break;
                const size = parseInt(buf.subarray(pos, le).toString("latin1"), 16);
                if (Number.isNaN(size)) throw new Error("bad chunk size");
                if (size === 0) {
                    const te = buf.indexOf("\r\n\r\n", le);
                    if (te < 0 && buf.length < le + 4) break;
                    pos = te >= 0 ? te + 4 : le + 4;
                    ok = true;
                    break;
                }
                if (buf.length < le + 2 + size + 2) break;
                parts.push(buf.subarray(le + 2, le + 2 + size));
                pos = le + 2 + size + 2;
            }
            if (!ok) break;
            body = Buffer.concat(parts);
        } else if (headers["content-length"] !== undefined) {
            const n = Number(headers["content-length"]);
            if (buf.length < pos + n) break;
            body = buf.subarray(pos, pos + n);
            pos += n;
        } else {
            if (!atEof) break;
            body = buf.subarray(pos);
            pos = buf.length;
        }
        let json;
        try {
            json = JSON.parse(body.toString("utf8"));
        } catch {
            json = undefined;
        }
        responses.push({ status, reason: m[2], headers, body, text: body.toString("utf8"), json });
        off = pos;
    }
    return { responses, rest: buf.subarray(off) };
}

/* A raw HTTP request's bytes. */
export function httpRequestBytes(method, p, { headers = {}, body } = {}) {
    const b = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    let s = `${method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
    const h = { ...headers };
    if (b && !Object.keys(h).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) h["Content-Length"] = b.length;
    if (b && !Object.keys(h).some((k) => /^content-type$/i.test(k))) h["Content-Type"] = "application/json";
    for (const [k, v] of Object.entries(h)) s += `${k}: ${v}\r\n`;
    s += "\r\n";
    return b ? Buffer.concat([Buffer.from(s, "latin1"), b]) : Buffer.from(s, "latin1");
}

/* --- WebSocket frames --- */

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

export function wsFrame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true, rsv = 0 } = {}) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = data.length;
    let head;
    if (len < 126) {
        head = Buffer.alloc(2);
        head[1] = len;
    } else if (len < 65536) {
        head = Buffer.alloc(4);
        head[1] = 126;
        head.writeUInt16BE(len, 2);
    } else {
        head = Buffer.alloc(10);
        head[1] = 127;
        head.writeBigUInt64BE(BigInt(len), 2);
    }
    head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
    if (!mask) return Buffer.concat([head, data]);
    head[1] |= 0x80;
    const key = crypto.randomBytes(4);
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i & 3];
    return Buffer.concat([head, key, masked]);
}

export function closePayload(code, reason = "") {
    const b = Buffer.alloc(2 + Buffer.byteLength(reason));
    b.writeUInt16BE(code, 0);
    b.write(reason, 2);
    return b;
}

/* The frame that starts at buf[off]: {b0, masked, pos (its payload's start), len}, or null
 * until its header and payload are all in buf. */
export function wsFrameAt(buf, off) {
    if (buf.length - off < 2) return null;
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let pos = off + 2;
    if (len === 126) {
        if (buf.length < pos + 2) return null;
        len = buf.readUInt16BE(pos);
        pos += 2;
    } else if (len === 127) {
        if (buf.length < pos + 8) return null;
        len = Number(buf.readBigUInt64BE(pos));
        pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) pos += 4;
    if (buf.length < pos + len) return null;
    return { b0: buf[off], masked, pos, len };
}

/* Parses server frames from buf: {frames: [{fin, rsv, opcode, masked, payload, code?, reason?}], rest}. */
export function parseWsFrames(buf) {
    const frames = [];
    let off = 0;
    for (let h; (h = wsFrameAt(buf, off)); ) {
        const { b0, masked, pos, len } = h;
        const key = masked ? buf.subarray(pos - 4, pos) : null;
        let payload = Buffer.from(buf.subarray(pos, pos + len));
        if (key) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
        const f = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
        if (f.opcode === OP.CLOSE && len >= 2) {
            f.code = payload.readUInt16BE(0);
            f.reason = payload.subarray(2).toString("utf8");
        }
        frames.push(f);
        off = pos + len;
    }
    return { frames, rest: buf.subarray(off) };
}

/* Opens a raw connection and completes the WebSocket handshake on `p`. Returns the RawConn with
 * its buffer positioned after the 101 response (conn.frames() parses what follows). */
export async function rawWebSocket(port, p = "/__test/echo", { headers = {}, timeout = 5000 } = {}) {
    const c = await RawConn.open(port);
    const key = crypto.randomBytes(16).toString("base64");
    const h = {
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        ...headers,
    };
    await c.write(httpRequestBytes("GET", p, { headers: h }));
    const [res] = await c.responses(1, timeout);
    if (res.status !== 101) {
        c.destroy();
        throw new Error(`handshake answered ${res.status}: ${res.text}`);
    }
    const expect = crypto.createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    res.expectedAccept = expect;
    const headEnd = c.buf.indexOf("\r\n\r\n") + 4;
    c.buf = c.buf.subarray(headEnd);
    c.handshake = res;
    c.frames = () => parseWsFrames(c.buf).frames;
    c.waitFrame = (pred, t = 5000, what = "a frame") =>
        c.waitFor((cc) => parseWsFrames(cc.buf).frames.find(pred), t, what);
    return c;
}

/* --- value encoding --- */

export function int64Wire(n) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return { $integer: b.toString("base64") };
}

export function wireInt64(w) {
    return Buffer.from(w.$integer, "base64").readBigInt64LE(0);
}

/* For suites sharing one server: before each test, restart it if a previous test killed it;
 * after each test, fail that test if the server died during it (with its signal and stderr). */
export function guardServer(hooks, get, restart) {
    hooks.beforeEach(async () => {
        const s = get();
        if (s && (s.exitCode !== undefined || s.exitSignal)) await restart();
    });
    hooks.afterEach(async () => {
        const s = get();
        if (!s) return;
        await sleep(30);
        if (s.exitCode !== undefined || s.exitSignal)
            throw new Error(`vireo died during this test (${s.exitSignal ?? `exit code ${s.exitCode}`}); stderr tail:\n${s.stderr.slice(-1500)}`);
    });
}

/* test() whose failures say so when the shared server died during the test. */
export function guardedTest(test, get) {
    return (name, opts, fn) =>
        test(name, opts, async (t) => {
            try {
                await fn(t);
            } catch (e) {
                await sleep(50);
                const s = get();
                if (s && (s.exitCode !== undefined || s.exitSignal))
                    e.message = `vireo died during this test (${s.exitSignal ?? `exit code ${s.exitCode}`}): ${e.message}\nvireo stderr tail:\n${s.stderr.slice(-800)}`;
                throw e;
            }
        });
}

/* The usual suite around one shared server on a copy of apps/<app>: started (and its app checked)
 * before the tests, restarted before a test when an earlier one killed it, stopped after them.
 * Returns the guarded test() and server(), the server running now. */
export function sharedServer(app, { args = [], cmd } = {}) {
    let srv;
    const start = async () => {
        srv = await startServer(tempDir(app), { args, ...(cmd ? { cmd } : {}) });
    };
    nodeTestHooks.before(async () => {
        await start();
        await assertAppLoaded(srv);
    });
    guardServer(nodeTestHooks, () => srv, start);
    nodeTestHooks.after(async () => {
        if (srv) await srv.stop();
    });
    return { test: guardedTest(nodeTestHooks.test, () => srv), server: () => srv };
}

/* Throws (with the server's stderr) unless the app loaded. */
export async function assertAppLoaded(s) {
    const h = await request(s.port, "GET", "/api/health");
    if (h.json?.app !== "loaded")
        throw new Error(`the app did not load (health: ${h.text}); vireo stderr:\n${s.stderr.slice(-1500)}`);
}

/* --- sync protocol (/api/sync) over the `ws` package --- */

/* One sync-protocol WebSocket: every received message is kept in `messages` (parsed JSON, in
 * arrival order); waitMsg(pred, {from}) finds the first one at index >= from. */
/* sessionId -> the sessionSecret of its last `connected`: SyncConn.connect presents it, as a
 * real client does, unless the caller passes `sessionSecret` (null: none). */
const sessionSecrets = new Map();

export class SyncConn {
    static async open(port, { path: p = "/api/sync", timeout = 5000 } = {}) {
        const { default: WebSocket } = await import("ws");
        const ws = new WebSocket(`ws://127.0.0.1:${port}${p}`, { maxPayload: 64 << 20 });
        const c = new SyncConn(ws);
        await new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error("sync WebSocket: open timed out")), timeout);
            ws.once("open", () => {
                clearTimeout(t);
                resolve();
            });
            ws.once("error", (e) => {
                clearTimeout(t);
                reject(e);
            });
        });
        return c;
    }

    constructor(ws) {
        this.ws = ws;
        this.messages = [];
        this.closed = null; /* {code, reason} once closed */
        this.waiters = new Set();
        ws.on("message", (data, isBinary) => {
            let m;
            try {
                m = JSON.parse(data.toString("utf8"));
            } catch {
                m = { type: "<unparsable>", raw: data.toString("utf8").slice(0, 200), isBinary };
            }
            this.messages.push(m);
            this.wake();
        });
        ws.on("close", (code, reason) => {
            this.closed = { code, reason: reason.toString() };
            this.wake();
        });
        ws.on("error", () => {});
    }

    wake() {
        for (const w of [...this.waiters]) w();
    }

    get mark() {
        return this.messages.length;
    }

    send(obj) {
        this.ws.send(typeof obj === "string" || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj));
    }

    /* The first message at index >= from for which pred holds (a string pred matches `type`). */
    waitMsg(pred, { from = 0, timeout = 5000, what } = {}) {
        const p = typeof pred === "string" ? (m) => m.type === pred : pred;
        return new Promise((resolve, reject) => {
            const check = () => {
                for (let i = from; i < this.messages.length; i++)
                    if (p(this.messages[i])) {
                        done();
                        resolve(this.messages[i]);
                        return;
                    }
                if (this.closed) {
                    done();
                    reject(new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what || pred}; got ${JSON.stringify(this.messages.slice(from)).slice(0, 600)}`));
                }
            };
            const t = setTimeout(() => {
                done();
                reject(new Error(`timed out after ${timeout} ms waiting for ${what || pred}; got ${JSON.stringify(this.messages.slice(from)).slice(0, 600)}`));
            }, timeout);
            const done = () => {
                clearTimeout(t);
                this.waiters.delete(check);
            };
            this.waiters.add(check);
            check();
        });
    }

    waitClose(timeout = 5000) {
        return new Promise((resolve, reject) => {
            const check = () => {
                if (this.closed) {
                    done();
                    resolve(this.closed);
                }
            };
            const t = setTimeout(() => {
                done();
                reject(new Error(`timed out after ${timeout} ms waiting for the connection to close`));
            }, timeout);
            const done = () => {
                clearTimeout(t);
                this.waiters.delete(check);
            };
            this.waiters.add(check);
            check();
        });
    }

    /* Sends `connect` and waits for `connected` (or an error frame). */
    async connect({ sessionId = crypto.randomUUID(), lastVersion, protocolVersion = 1, sessionSecret } = {}) {
        this.sessionId = sessionId;
        const from = this.mark;
        const msg = { type: "connect", sessionId, clientVersion: "vireo-it/0", protocolVersion };
        if (lastVersion !== undefined) msg.lastVersion = lastVersion;
        const secret = sessionSecret === undefined ? sessionSecrets.get(sessionId) : sessionSecret;
        if (secret) msg.sessionSecret = secret;
        this.send(msg);
        const m = await this.waitMsg((x) => x.type === "connected" || x.type === "error", { from, what: "connected" });
        if (m.type === "error") throw new Error(`connect refused: ${JSON.stringify(m)}`);
        if (m.sessionSecret) sessionSecrets.set(sessionId, m.sessionSecret);
        this.version = m.version;
        return m;
    }

    /* Adds one query; resolves with the transition that carries its first modification. */
    async subscribe(queryId, p, args = {}, { hash, timeout = 5000 } = {}) {
        const from = this.mark;
        const q = { queryId, path: p, args };
        if (hash) q.hash = hash;
        this.send({ type: "modifyQuerySet", add: [q], remove: [] });
        return this.waitMsg((m) => m.type === "transition" && m.modifications.some((x) => x.queryId === queryId), { from, timeout, what: `first result of query ${queryId}` });
    }

    /* Sends a mutation (or action) and resolves with its response. */
    async call(kind, requestId, p, args = {}, extra = {}) {
        const from = this.mark;
        this.send({ type: kind, requestId, path: p, args, ...extra });
        const rt = kind === "mutation" ? "mutationResponse" : "actionResponse";
        return this.waitMsg((m) => m.type === rt && m.requestId === requestId, { from, what: `${rt} ${requestId}` });
    }

    /* The transitions received from index `from` on. */
    transitions(from = 0) {
        return this.messages.slice(from).filter((m) => m.type === "transition");
    }

    close() {
        this.ws.close();
    }

    /* Drops the TCP connection without a close handshake. */
    terminate() {
        this.ws.terminate();
    }
}

/* The modification for queryId in a transition (undefined when absent). */
export function modOf(transition, queryId) {
    return transition.modifications.find((m) => m.queryId === queryId);
}

/* GET /api/metrics as an object. */
export async function metrics(srv) {
    const r = await request(srv.port, "GET", "/api/metrics");
    if (r.status !== 200 || !r.json) throw new Error(`metrics: HTTP ${r.status} ${r.text}`);
    return r.json;
}

/* b - a for every numeric field. */
export function metricsDelta(a, b) {
    const d = {};
    for (const k of Object.keys(b)) if (typeof b[k] === "number" && typeof a[k] === "number") d[k] = b[k] - a[k];
    return d;
}

/* The entries of a ZIP (stored or deflated): {name: Buffer}. */
export function unzip(buf) {
    const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    assert.ok(end >= 0, "not a ZIP");
    const n = buf.readUInt16LE(end + 10);
    let p = buf.readUInt32LE(end + 16);
    const out = {};
    for (let i = 0; i < n; i++) {
        assert.equal(buf.readUInt32LE(p), 0x02014b50);
        const method = buf.readUInt16LE(p + 10), csize = buf.readUInt32LE(p + 20);
        const nl = buf.readUInt16LE(p + 28), xl = buf.readUInt16LE(p + 30), cl = buf.readUInt16LE(p + 32);
        const off = buf.readUInt32LE(p + 42);
        const name = buf.subarray(p + 46, p + 46 + nl).toString();
        const lnl = buf.readUInt16LE(off + 26), lxl = buf.readUInt16LE(off + 28);
        const data = buf.subarray(off + 30 + lnl + lxl, off + 30 + lnl + lxl + csize);
        out[name] = method === 8 ? zlib.inflateRawSync(data) : Buffer.from(data);
        p += 46 + nl + xl + cl;
    }
    return out;
}
