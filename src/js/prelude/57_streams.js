/* streams: WHATWG Streams (https://streams.spec.whatwg.org/) as the prelude's own code:
 * ReadableStream with its default controller and reader (async iteration, tee, pipeTo,
 * pipeThrough, ReadableStream.from), WritableStream and its writer, TransformStream, the two
 * queuing strategies, and TextEncoderStream / TextDecoderStream. The algorithms follow the
 * standard's steps and names (abbreviated: RS = ReadableStream, WS = WritableStream); byte
 * streams (`type: "bytes"`, BYOB readers) are not implemented and say so. No npm polyfill is
 * bundled because none is installed in the build's node_modules (docs/functions.md "Web APIs").
 * An HTTP action may return `new Response(readableStream)` (56_http.js sends it chunk by chunk). */

const streamSlots = new WeakMap(); /* any stream object -> its internal slots */

function slotsOf(o, what) {
    const s = o !== null && typeof o === "object" ? streamSlots.get(o) : undefined;
    if (s === undefined || s.kind !== what) throw new TypeError(`Illegal invocation: not a ${what}`);
    return s;
}

/* A promise with its resolving functions and whether it has settled. */
function newPromise() {
    const d = { promise: null, resolve: null, reject: null, settled: false };
    d.promise = new Promise((a, b) => {
        d.resolve = (v) => {
            d.settled = true;
            a(v);
        };
        d.reject = (e) => {
            d.settled = true;
            b(e);
        };
    });
    return d;
}

function markHandled(p) {
    p.then(undefined, () => {});
    return p;
}

function rejected(e) {
    return markHandled(Promise.reject(e));
}

/* Calls o[name](...args) if it is a method; its result (or thrown error) as a promise. */
function promiseCall(fn, self, args) {
    if (fn === undefined) return Promise.resolve(undefined);
    try {
        return Promise.resolve(fn.apply(self, args));
    } catch (e) {
        return Promise.reject(e);
    }
}

function getMethod(o, name, what) {
    if (o === undefined || o === null) return undefined;
    const f = o[name];
    if (f === undefined || f === null) return undefined;
    if (typeof f !== "function") throw new TypeError(`${what}.${name} must be a function`);
    return f;
}

/* ---- queuing strategies ---- */

function extractHighWaterMark(strategy, dflt) {
    if (strategy === undefined || strategy === null || strategy.highWaterMark === undefined)
        return dflt;
    const h = Number(strategy.highWaterMark);
    if (Number.isNaN(h) || h < 0) throw new RangeError("Invalid highWaterMark");
    return h;
}

function extractSizeAlgorithm(strategy) {
    const size = strategy === undefined || strategy === null ? undefined : strategy.size;
    if (size === undefined) return () => 1;
    if (typeof size !== "function") throw new TypeError("strategy.size must be a function");
    return (chunk) => size(chunk);
}

class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) {
        if (init === null || typeof init !== "object" || init.highWaterMark === undefined)
            throw new TypeError("ByteLengthQueuingStrategy: highWaterMark is required");
        this.#hwm = Number(init.highWaterMark);
    }
    get highWaterMark() { return this.#hwm; }
    get size() { return byteLengthSize; }
}
const byteLengthSize = function size(chunk) { return chunk.byteLength; };

class CountQueuingStrategy {
    #hwm;
    constructor(init) {
        if (init === null || typeof init !== "object" || init.highWaterMark === undefined)
            throw new TypeError("CountQueuingStrategy: highWaterMark is required");
        this.#hwm = Number(init.highWaterMark);
    }
    get highWaterMark() { return this.#hwm; }
    get size() { return countSize; }
}
const countSize = function size() { return 1; };

/* the queue-with-sizes of a controller */
function enqueueValueWithSize(c, value, size) {
    size = Number(size);
    if (!(size >= 0) || size === Infinity) throw new RangeError("Invalid chunk size: " + size);
    c.queue.push({ value, size });
    c.queueTotalSize += size;
}

function dequeueValue(c) {
    const pair = c.queue.shift();
    c.queueTotalSize -= pair.size;
    if (c.queueTotalSize < 0) c.queueTotalSize = 0;
    return pair.value;
}

function resetQueue(c) {
    c.queue = [];
    c.queueTotalSize = 0;
}

/* ---- ReadableStream ---- */

class ReadableStream {
    constructor(underlyingSource = undefined, strategy = undefined) {
        const src = underlyingSource === null ? undefined : underlyingSource;
        if (src !== undefined && typeof src !== "object" && typeof src !== "function")
            throw new TypeError("ReadableStream: underlyingSource must be an object");
        const rs = { kind: "ReadableStream", state: "readable", reader: null, storedError: undefined,
                     disturbed: false, controller: null, self: this };
        streamSlots.set(this, rs);
        const type = src === undefined ? undefined : src.type;
        if (type !== undefined && String(type) === "bytes")
            throw new RangeError("ReadableStream: byte streams (type: \"bytes\") are not " +
                "supported by Vireo; use a default stream");
        if (type !== undefined)
            throw new TypeError(`ReadableStream: '${String(type)}' is not a valid stream type`);
        const start = getMethod(src, "start", "underlyingSource");
        const pull = getMethod(src, "pull", "underlyingSource");
        const cancel = getMethod(src, "cancel", "underlyingSource");
        const size = extractSizeAlgorithm(strategy);
        const hwm = extractHighWaterMark(strategy, 1);
        setUpRSController(rs, () => start ? start.call(src, rs.controller.self) : undefined,
            () => promiseCall(pull, src, [rs.controller.self]),
            (r) => promiseCall(cancel, src, [r]), hwm, size);
    }

    get locked() { return slotsOf(this, "ReadableStream").reader !== null; }

    cancel(reason = undefined) {
        let rs;
        try {
            rs = slotsOf(this, "ReadableStream");
        } catch (e) {
            return Promise.reject(e);
        }
        if (rs.reader !== null)
            return Promise.reject(new TypeError("Cannot cancel a locked ReadableStream"));
        return rsCancel(rs, reason);
    }

    getReader(options = undefined) {
        slotsOf(this, "ReadableStream");
        const mode = options === undefined || options === null ? undefined : options.mode;
        if (mode !== undefined) {
            if (String(mode) === "byob")
                throw new TypeError("ReadableStream.getReader: BYOB readers need a byte stream, " +
                    "which Vireo does not support");
            throw new TypeError(`ReadableStream.getReader: '${String(mode)}' is not a valid mode`);
        }
        return new ReadableStreamDefaultReader(this);
    }

    pipeThrough(transform, options = undefined) {
        const rs = slotsOf(this, "ReadableStream");
        if (transform === null || typeof transform !== "object")
            throw new TypeError("pipeThrough: transform must be {readable, writable}");
        const { readable, writable } = transform;
        const ws = slotsOf(writable, "WritableStream");
        slotsOf(readable, "ReadableStream");
        if (rs.reader !== null) throw new TypeError("pipeThrough: the stream is locked");
        if (ws.writer !== null) throw new TypeError("pipeThrough: the writable is locked");
        const o = pipeOptions(options);
        markHandled(rsPipeTo(rs, ws, o.preventClose, o.preventAbort, o.preventCancel, o.signal));
        return readable;
    }

    pipeTo(destination, options = undefined) {
        let rs, ws, o;
        try {
            rs = slotsOf(this, "ReadableStream");
            ws = slotsOf(destination, "WritableStream");
            o = pipeOptions(options);
        } catch (e) {
            return Promise.reject(e);
        }
        if (rs.reader !== null)
            return Promise.reject(new TypeError("pipeTo: the stream is locked"));
        if (ws.writer !== null)
            return Promise.reject(new TypeError("pipeTo: the destination is locked"));
        return rsPipeTo(rs, ws, o.preventClose, o.preventAbort, o.preventCancel, o.signal);
    }

    tee() {
        return rsTee(slotsOf(this, "ReadableStream"));
    }

    values(options = undefined) {
        const rs = slotsOf(this, "ReadableStream");
        const preventCancel = !!(options && options.preventCancel);
        const reader = new ReadableStreamDefaultReader(this);
        const rd = streamSlots.get(reader);
        let ongoing = null, finished = false;
        const nextSteps = () => {
            if (finished) return Promise.resolve({ value: undefined, done: true });
            return readerRead(rd).then((r) => {
                if (r.done) {
                    finished = true;
                    readerRelease(rd);
                }
                return r;
            }, (e) => {
                finished = true;
                readerRelease(rd);
                throw e;
            });
        };
        const returnSteps = (value) => {
            if (finished) return Promise.resolve({ value, done: true });
            finished = true;
            if (rd.stream === null)
                return Promise.reject(new TypeError("the iterator's reader was released"));
            if (!preventCancel) {
                const p = rsCancel(rd.stream, value);
                readerRelease(rd);
                return p.then(() => ({ value, done: true }));
            }
            readerRelease(rd);
            return Promise.resolve({ value, done: true });
        };
        const it = Object.create(asyncIteratorProto);
        it.next = function next() {
            ongoing = ongoing ? ongoing.then(nextSteps, nextSteps) : nextSteps();
            return ongoing;
        };
        it.return = function (value) {
            const p = ongoing ? ongoing.then(() => returnSteps(value), () => returnSteps(value))
                : returnSteps(value);
            ongoing = p;
            return p;
        };
        void rs;
        return it;
    }

    [Symbol.asyncIterator](options = undefined) {
        return this.values(options);
    }

    static from(asyncIterable) {
        let method = asyncIterable == null ? undefined : asyncIterable[Symbol.asyncIterator];
        let iterator;
        if (method == null) {
            const sync = asyncIterable == null ? undefined : asyncIterable[Symbol.iterator];
            if (typeof sync !== "function")
                throw new TypeError("ReadableStream.from: the argument is not iterable");
            const syncIt = sync.call(asyncIterable);
            iterator = {
                next: () => {
                    const r = syncIt.next();
                    return Promise.resolve(r.value).then((value) => ({ value, done: r.done }));
                },
                return: (v) => Promise.resolve(typeof syncIt.return === "function"
                    ? syncIt.return(v) : { value: v, done: true }),
            };
        } else {
            if (typeof method !== "function")
                throw new TypeError("ReadableStream.from: Symbol.asyncIterator is not a function");
            iterator = method.call(asyncIterable);
            if (iterator === null || typeof iterator !== "object")
                throw new TypeError("ReadableStream.from: the iterator is not an object");
        }
        return new ReadableStream({
            pull(controller) {
                return Promise.resolve(iterator.next()).then((r) => {
                    if (r === null || typeof r !== "object")
                        throw new TypeError("the iterator's result is not an object");
                    if (r.done) controller.close();
                    else controller.enqueue(r.value);
                });
            },
            cancel(reason) {
                const ret = iterator.return;
                if (ret === undefined || ret === null) return undefined;
                return Promise.resolve(ret.call(iterator, reason)).then((r) => {
                    if (r === null || typeof r !== "object")
                        throw new TypeError("the iterator's return() result is not an object");
                });
            },
        }, { highWaterMark: 0 });
    }
}
Object.defineProperty(ReadableStream.prototype, Symbol.toStringTag, { value: "ReadableStream" });

const asyncIteratorProto = Object.create(Object.getPrototypeOf(Object.getPrototypeOf(
    Object.getPrototypeOf((async function* () {})()))), {
    [Symbol.toStringTag]: { value: "ReadableStream AsyncIterator" },
});

function pipeOptions(options) {
    const o = options === undefined || options === null ? {} : options;
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
        throw new TypeError("pipeTo: signal must be an AbortSignal");
    return { preventClose: !!o.preventClose, preventAbort: !!o.preventAbort,
             preventCancel: !!o.preventCancel, signal };
}

class ReadableStreamDefaultController {
    constructor() {
        throw new TypeError("Illegal constructor");
    }
    get desiredSize() { return rsCtrlDesiredSize(slotsOf(this, "RSController")); }
    close() {
        const c = slotsOf(this, "RSController");
        if (!rsCtrlCanCloseOrEnqueue(c))
            throw new TypeError("Invalid state: the stream is closed or closing");
        rsCtrlClose(c);
    }
    enqueue(chunk = undefined) {
        const c = slotsOf(this, "RSController");
        if (!rsCtrlCanCloseOrEnqueue(c))
            throw new TypeError("Invalid state: the stream is closed or closing");
        rsCtrlEnqueue(c, chunk);
    }
    error(e = undefined) {
        rsCtrlError(slotsOf(this, "RSController"), e);
    }
}
Object.defineProperty(ReadableStreamDefaultController.prototype, Symbol.toStringTag,
                      { value: "ReadableStreamDefaultController" });

function setUpRSController(rs, startAlg, pullAlg, cancelAlg, hwm, sizeAlg) {
    const self = Object.create(ReadableStreamDefaultController.prototype);
    const c = { kind: "RSController", self, stream: rs, queue: [], queueTotalSize: 0,
                started: false, closeRequested: false, pullAgain: false, pulling: false,
                strategySizeAlgorithm: sizeAlg, strategyHWM: hwm, pullAlgorithm: pullAlg,
                cancelAlgorithm: cancelAlg };
    streamSlots.set(self, c);
    rs.controller = c;
    const startResult = startAlg();
    Promise.resolve(startResult).then(() => {
        c.started = true;
        rsCtrlCallPullIfNeeded(c);
    }, (r) => rsCtrlError(c, r));
}

function rsCtrlCallPullIfNeeded(c) {
    if (!rsCtrlShouldCallPull(c)) return;
    if (c.pulling) {
        c.pullAgain = true;
        return;
    }
    c.pulling = true;
    c.pullAlgorithm().then(() => {
        c.pulling = false;
        if (c.pullAgain) {
            c.pullAgain = false;
            rsCtrlCallPullIfNeeded(c);
        }
    }, (e) => rsCtrlError(c, e));
}

function rsCtrlShouldCallPull(c) {
    const rs = c.stream;
    if (!rsCtrlCanCloseOrEnqueue(c) || !c.started) return false;
    if (rs.reader !== null && rs.reader.readRequests.length > 0) return true;
    return rsCtrlDesiredSize(c) > 0;
}

function rsCtrlClearAlgorithms(c) {
    c.pullAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
    c.strategySizeAlgorithm = undefined;
}

function rsCtrlClose(c) {
    if (!rsCtrlCanCloseOrEnqueue(c)) return;
    c.closeRequested = true;
    if (c.queue.length === 0) {
        rsCtrlClearAlgorithms(c);
        rsClose(c.stream);
    }
}

function rsCtrlEnqueue(c, chunk) {
    if (!rsCtrlCanCloseOrEnqueue(c)) return;
    const rs = c.stream;
    if (rs.reader !== null && rs.reader.readRequests.length > 0) {
        rsFulfillReadRequest(rs, chunk, false);
    } else {
        let size;
        try {
            size = c.strategySizeAlgorithm(chunk);
        } catch (e) {
            rsCtrlError(c, e);
            throw e;
        }
        try {
            enqueueValueWithSize(c, chunk, size);
        } catch (e) {
            rsCtrlError(c, e);
            throw e;
        }
    }
    rsCtrlCallPullIfNeeded(c);
}

function rsCtrlError(c, e) {
    const rs = c.stream;
    if (rs.state !== "readable") return;
    resetQueue(c);
    rsCtrlClearAlgorithms(c);
    rsError(rs, e);
}

function rsCtrlDesiredSize(c) {
    const state = c.stream.state;
    if (state === "errored") return null;
    if (state === "closed") return 0;
    return c.strategyHWM - c.queueTotalSize;
}

function rsCtrlHasBackpressure(c) {
    return !rsCtrlShouldCallPull(c);
}

function rsCtrlCanCloseOrEnqueue(c) {
    return !c.closeRequested && c.stream.state === "readable";
}

/* [[CancelSteps]] and [[PullSteps]] of the default controller */
function rsCtrlCancelSteps(c, reason) {
    resetQueue(c);
    const r = c.cancelAlgorithm ? c.cancelAlgorithm(reason) : Promise.resolve();
    rsCtrlClearAlgorithms(c);
    return r;
}

function rsCtrlPullSteps(c, readRequest) {
    const rs = c.stream;
    if (c.queue.length > 0) {
        const chunk = dequeueValue(c);
        if (c.closeRequested && c.queue.length === 0) {
            rsCtrlClearAlgorithms(c);
            rsClose(rs);
        } else {
            rsCtrlCallPullIfNeeded(c);
        }
        readRequest.chunk(chunk);
    } else {
        rs.reader.readRequests.push(readRequest);
        rsCtrlCallPullIfNeeded(c);
    }
}

function rsCancel(rs, reason) {
    rs.disturbed = true;
    if (rs.state === "closed") return Promise.resolve(undefined);
    if (rs.state === "errored") return Promise.reject(rs.storedError);
    rsClose(rs);
    return rsCtrlCancelSteps(rs.controller, reason).then(() => undefined);
}

function rsClose(rs) {
    rs.state = "closed";
    const reader = rs.reader;
    if (reader === null) return;
    reader.closed.resolve(undefined);
    const requests = reader.readRequests;
    reader.readRequests = [];
    for (const r of requests) r.close();
}

function rsError(rs, e) {
    rs.state = "errored";
    rs.storedError = e;
    const reader = rs.reader;
    if (reader === null) return;
    reader.closed.reject(e);
    markHandled(reader.closed.promise);
    const requests = reader.readRequests;
    reader.readRequests = [];
    for (const r of requests) r.error(e);
}

function rsFulfillReadRequest(rs, chunk, done) {
    const r = rs.reader.readRequests.shift();
    if (done) r.close();
    else r.chunk(chunk);
}

/* ---- ReadableStreamDefaultReader ---- */

class ReadableStreamDefaultReader {
    constructor(stream) {
        const rs = slotsOf(stream, "ReadableStream");
        if (rs.reader !== null) throw new TypeError("ReadableStream is locked to a reader");
        const rd = { kind: "Reader", stream: rs, readRequests: [], closed: newPromise() };
        streamSlots.set(this, rd);
        rs.reader = rd;
        if (rs.state === "closed") {
            rd.closed.resolve(undefined);
        } else if (rs.state === "errored") {
            rd.closed.reject(rs.storedError);
            markHandled(rd.closed.promise);
        }
    }
    get closed() { return slotsOf(this, "Reader").closed.promise; }
    cancel(reason = undefined) {
        let rd;
        try {
            rd = slotsOf(this, "Reader");
        } catch (e) {
            return Promise.reject(e);
        }
        if (rd.stream === null)
            return Promise.reject(new TypeError("the reader has no stream (released)"));
        return rsCancel(rd.stream, reason);
    }
    read() {
        let rd;
        try {
            rd = slotsOf(this, "Reader");
        } catch (e) {
            return Promise.reject(e);
        }
        if (rd.stream === null)
            return Promise.reject(new TypeError("the reader has no stream (released)"));
        return readerRead(rd);
    }
    releaseLock() {
        const rd = slotsOf(this, "Reader");
        if (rd.stream !== null) readerRelease(rd);
    }
}
Object.defineProperty(ReadableStreamDefaultReader.prototype, Symbol.toStringTag,
                      { value: "ReadableStreamDefaultReader" });

/* ReadableStreamDefaultReaderRead with a promise-returning read request */
function readerRead(rd) {
    const p = newPromise();
    readerReadWith(rd, {
        chunk: (value) => p.resolve({ value, done: false }),
        close: () => p.resolve({ value: undefined, done: true }),
        error: (e) => p.reject(e),
    });
    return p.promise;
}

function readerReadWith(rd, request) {
    const rs = rd.stream;
    rs.disturbed = true;
    if (rs.state === "closed") request.close();
    else if (rs.state === "errored") request.error(rs.storedError);
    else rsCtrlPullSteps(rs.controller, request);
}

function readerRelease(rd) {
    const rs = rd.stream;
    const e = new TypeError("the reader was released");
    if (rs.state === "readable") {
        rd.closed.reject(e);
    } else {
        rd.closed = newPromise();
        rd.closed.reject(e);
    }
    markHandled(rd.closed.promise);
    rs.reader = null;
    rd.stream = null;
    const requests = rd.readRequests;
    rd.readRequests = [];
    for (const r of requests) r.error(e);
}

function acquireReader(rs) {
    return streamSlots.get(new ReadableStreamDefaultReader(rs.self));
}

/* ---- tee (ReadableStreamDefaultTee; chunks are shared, not cloned) ---- */

function rsTee(rs) {
    const rd = acquireReader(rs);
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false;
    let reason1, reason2, branch1, branch2;
    const cancelPromise = newPromise();
    const pullAlgorithm = () => {
        if (reading) {
            readAgain = true;
            return Promise.resolve();
        }
        reading = true;
        readerReadWith(rd, {
            chunk: (chunk) => {
                queueMicrotask(() => {
                    readAgain = false;
                    if (!canceled1) rsCtrlEnqueue(branch1.controller, chunk);
                    if (!canceled2) rsCtrlEnqueue(branch2.controller, chunk);
                    reading = false;
                    if (readAgain) pullAlgorithm();
                });
            },
            close: () => {
                reading = false;
                if (!canceled1) rsCtrlClose(branch1.controller);
                if (!canceled2) rsCtrlClose(branch2.controller);
                if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
            },
            error: () => { reading = false; },
        });
        return Promise.resolve();
    };
    const cancel1 = (reason) => {
        canceled1 = true;
        reason1 = reason;
        if (canceled2) cancelPromise.resolve(rsCancel(rs, [reason1, reason2]));
        return cancelPromise.promise;
    };
    const cancel2 = (reason) => {
        canceled2 = true;
        reason2 = reason;
        if (canceled1) cancelPromise.resolve(rsCancel(rs, [reason1, reason2]));
        return cancelPromise.promise;
    };
    const make = (cancelAlg) => {
        const s = Object.create(ReadableStream.prototype);
        const slots = { kind: "ReadableStream", state: "readable", reader: null,
                        storedError: undefined, disturbed: false, controller: null, self: s };
        streamSlots.set(s, slots);
        setUpRSController(slots, () => undefined, pullAlgorithm, cancelAlg, 1, () => 1);
        return slots;
    };
    branch1 = make(cancel1);
    branch2 = make(cancel2);
    rd.closed.promise.then(undefined, (r) => {
        rsCtrlError(branch1.controller, r);
        rsCtrlError(branch2.controller, r);
        if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
    });
    return [branch1.self, branch2.self];
}

/* ---- WritableStream ---- */

class WritableStream {
    constructor(underlyingSink = undefined, strategy = undefined) {
        const sink = underlyingSink === null ? undefined : underlyingSink;
        if (sink !== undefined && typeof sink !== "object" && typeof sink !== "function")
            throw new TypeError("WritableStream: underlyingSink must be an object");
        if (sink !== undefined && sink.type !== undefined)
            throw new RangeError("WritableStream: invalid type");
        const ws = newWSSlots(this);
        const start = getMethod(sink, "start", "underlyingSink");
        const write = getMethod(sink, "write", "underlyingSink");
        const close = getMethod(sink, "close", "underlyingSink");
        const abort = getMethod(sink, "abort", "underlyingSink");
        const size = extractSizeAlgorithm(strategy);
        const hwm = extractHighWaterMark(strategy, 1);
        setUpWSController(ws, () => start ? start.call(sink, ws.controller.self) : undefined,
            (chunk) => promiseCall(write, sink, [chunk, ws.controller.self]),
            () => promiseCall(close, sink, []), (r) => promiseCall(abort, sink, [r]), hwm, size);
    }
    get locked() { return slotsOf(this, "WritableStream").writer !== null; }
    abort(reason = undefined) {
        let ws;
        try {
            ws = slotsOf(this, "WritableStream");
        } catch (e) {
            return Promise.reject(e);
        }
        if (ws.writer !== null)
            return Promise.reject(new TypeError("Cannot abort a locked WritableStream"));
        return wsAbort(ws, reason);
    }
    close() {
        let ws;
        try {
            ws = slotsOf(this, "WritableStream");
        } catch (e) {
            return Promise.reject(e);
        }
        if (ws.writer !== null)
            return Promise.reject(new TypeError("Cannot close a locked WritableStream"));
        if (wsCloseQueuedOrInFlight(ws))
            return Promise.reject(new TypeError("the stream is already closing"));
        return wsClose(ws);
    }
    getWriter() {
        return new WritableStreamDefaultWriter(this);
    }
}
Object.defineProperty(WritableStream.prototype, Symbol.toStringTag, { value: "WritableStream" });

function newWSSlots(self) {
    const ws = { kind: "WritableStream", self, state: "writable", storedError: undefined,
                 writer: null, controller: null, writeRequests: [], inFlightWriteRequest: null,
                 closeRequest: null, inFlightCloseRequest: null, pendingAbortRequest: null,
                 backpressure: false };
    streamSlots.set(self, ws);
    return ws;
}

class WritableStreamDefaultController {
    constructor() {
        throw new TypeError("Illegal constructor");
    }
    get signal() { return slotsOf(this, "WSController").abortController.signal; }
    error(e = undefined) {
        const c = slotsOf(this, "WSController");
        if (c.stream.state !== "writable") return;
        wsCtrlError(c, e);
    }
}
Object.defineProperty(WritableStreamDefaultController.prototype, Symbol.toStringTag,
                      { value: "WritableStreamDefaultController" });

const CLOSE_SENTINEL = {};

function setUpWSController(ws, startAlg, writeAlg, closeAlg, abortAlg, hwm, sizeAlg) {
    const self = Object.create(WritableStreamDefaultController.prototype);
    const c = { kind: "WSController", self, stream: ws, queue: [], queueTotalSize: 0,
                abortController: new AbortController(), started: false,
                strategySizeAlgorithm: sizeAlg, strategyHWM: hwm, writeAlgorithm: writeAlg,
                closeAlgorithm: closeAlg, abortAlgorithm: abortAlg };
    streamSlots.set(self, c);
    ws.controller = c;
    wsUpdateBackpressure(ws, wsCtrlGetBackpressure(c));
    const startResult = startAlg();
    Promise.resolve(startResult).then(() => {
        c.started = true;
        wsCtrlAdvanceQueueIfNeeded(c);
    }, (r) => {
        c.started = true;
        wsDealWithRejection(ws, r);
    });
}

function wsAbort(ws, reason) {
    if (ws.state === "closed" || ws.state === "errored") return Promise.resolve(undefined);
    ws.controller.abortController.abort(reason);
    const state = ws.state;
    if (state === "closed" || state === "errored") return Promise.resolve(undefined);
    if (ws.pendingAbortRequest !== null) return ws.pendingAbortRequest.promise.promise;
    let wasAlreadyErroring = false;
    if (state === "erroring") {
        wasAlreadyErroring = true;
        reason = undefined;
    }
    const promise = newPromise();
    ws.pendingAbortRequest = { promise, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) wsStartErroring(ws, reason);
    return promise.promise;
}

function wsClose(ws) {
    const state = ws.state;
    if (state === "closed" || state === "errored")
        return Promise.reject(new TypeError("the stream is closed or errored"));
    const promise = newPromise();
    ws.closeRequest = promise;
    const writer = ws.writer;
    if (writer !== null && ws.backpressure && state === "writable") writer.ready.resolve(undefined);
    enqueueValueWithSize(ws.controller, CLOSE_SENTINEL, 0);
    wsCtrlAdvanceQueueIfNeeded(ws.controller);
    return promise.promise;
}

function wsAddWriteRequest(ws) {
    const p = newPromise();
    ws.writeRequests.push(p);
    return p.promise;
}

function wsDealWithRejection(ws, error) {
    if (ws.state === "writable") {
        wsStartErroring(ws, error);
        return;
    }
    wsFinishErroring(ws);
}

function wsStartErroring(ws, reason) {
    const c = ws.controller;
    ws.state = "erroring";
    ws.storedError = reason;
    const writer = ws.writer;
    if (writer !== null) writerEnsureReadyRejected(writer, reason);
    if (!wsHasOperationMarkedInFlight(ws) && c.started) wsFinishErroring(ws);
}

function wsFinishErroring(ws) {
    ws.state = "errored";
    const c = ws.controller;
    resetQueue(c); /* [[ErrorSteps]] */
    const storedError = ws.storedError;
    for (const r of ws.writeRequests) r.reject(storedError);
    ws.writeRequests = [];
    if (ws.pendingAbortRequest === null) {
        wsRejectCloseAndClosedIfNeeded(ws);
        return;
    }
    const abortRequest = ws.pendingAbortRequest;
    ws.pendingAbortRequest = null;
    if (abortRequest.wasAlreadyErroring) {
        abortRequest.promise.reject(storedError);
        wsRejectCloseAndClosedIfNeeded(ws);
        return;
    }
    const p = c.abortAlgorithm ? c.abortAlgorithm(abortRequest.reason) : Promise.resolve();
    wsCtrlClearAlgorithms(c);
    p.then(() => {
        abortRequest.promise.resolve(undefined);
        wsRejectCloseAndClosedIfNeeded(ws);
    }, (r) => {
        abortRequest.promise.reject(r);
        wsRejectCloseAndClosedIfNeeded(ws);
    });
}

function wsFinishInFlightWrite(ws) {
    ws.inFlightWriteRequest.resolve(undefined);
    ws.inFlightWriteRequest = null;
}

function wsFinishInFlightWriteWithError(ws, error) {
    ws.inFlightWriteRequest.reject(error);
    ws.inFlightWriteRequest = null;
    wsDealWithRejection(ws, error);
}

function wsFinishInFlightClose(ws) {
    ws.inFlightCloseRequest.resolve(undefined);
    ws.inFlightCloseRequest = null;
    if (ws.state === "erroring") {
        ws.storedError = undefined;
        if (ws.pendingAbortRequest !== null) {
            ws.pendingAbortRequest.promise.resolve(undefined);
            ws.pendingAbortRequest = null;
        }
    }
    ws.state = "closed";
    const writer = ws.writer;
    if (writer !== null) writer.closed.resolve(undefined);
}

function wsFinishInFlightCloseWithError(ws, error) {
    ws.inFlightCloseRequest.reject(error);
    ws.inFlightCloseRequest = null;
    if (ws.pendingAbortRequest !== null) {
        ws.pendingAbortRequest.promise.reject(error);
        ws.pendingAbortRequest = null;
    }
    wsDealWithRejection(ws, error);
}

function wsCloseQueuedOrInFlight(ws) {
    return ws.closeRequest !== null || ws.inFlightCloseRequest !== null;
}

function wsHasOperationMarkedInFlight(ws) {
    return ws.inFlightWriteRequest !== null || ws.inFlightCloseRequest !== null;
}

function wsRejectCloseAndClosedIfNeeded(ws) {
    if (ws.closeRequest !== null) {
        ws.closeRequest.reject(ws.storedError);
        ws.closeRequest = null;
    }
    const writer = ws.writer;
    if (writer !== null) {
        writer.closed.reject(ws.storedError);
        markHandled(writer.closed.promise);
    }
}

function wsUpdateBackpressure(ws, backpressure) {
    const writer = ws.writer;
    if (writer !== null && backpressure !== ws.backpressure) {
        if (backpressure) writer.ready = newPromise();
        else writer.ready.resolve(undefined);
    }
    ws.backpressure = backpressure;
}

function wsCtrlClearAlgorithms(c) {
    c.writeAlgorithm = undefined;
    c.closeAlgorithm = undefined;
    c.abortAlgorithm = undefined;
    c.strategySizeAlgorithm = undefined;
}

function wsCtrlGetChunkSize(c, chunk) {
    try {
        return c.strategySizeAlgorithm(chunk);
    } catch (e) {
        wsCtrlErrorIfNeeded(c, e);
        return 1;
    }
}

function wsCtrlGetDesiredSize(c) {
    return c.strategyHWM - c.queueTotalSize;
}

function wsCtrlGetBackpressure(c) {
    return wsCtrlGetDesiredSize(c) <= 0;
}

function wsCtrlWrite(c, chunk, chunkSize) {
    try {
        enqueueValueWithSize(c, chunk, chunkSize);
    } catch (e) {
        wsCtrlErrorIfNeeded(c, e);
        return;
    }
    const ws = c.stream;
    if (!wsCloseQueuedOrInFlight(ws) && ws.state === "writable")
        wsUpdateBackpressure(ws, wsCtrlGetBackpressure(c));
    wsCtrlAdvanceQueueIfNeeded(c);
}

function wsCtrlAdvanceQueueIfNeeded(c) {
    const ws = c.stream;
    if (!c.started || ws.inFlightWriteRequest !== null) return;
    if (ws.state === "erroring") {
        wsFinishErroring(ws);
        return;
    }
    if (ws.state !== "writable" || c.queue.length === 0) return;
    const value = c.queue[0].value;
    if (value === CLOSE_SENTINEL) {
        ws.inFlightCloseRequest = ws.closeRequest;
        ws.closeRequest = null;
        dequeueValue(c);
        const p = c.closeAlgorithm();
        wsCtrlClearAlgorithms(c);
        p.then(() => wsFinishInFlightClose(ws), (r) => wsFinishInFlightCloseWithError(ws, r));
    } else {
        ws.inFlightWriteRequest = ws.writeRequests.shift();
        c.writeAlgorithm(value).then(() => {
            wsFinishInFlightWrite(ws);
            dequeueValue(c);
            if (!wsCloseQueuedOrInFlight(ws) && ws.state === "writable")
                wsUpdateBackpressure(ws, wsCtrlGetBackpressure(c));
            wsCtrlAdvanceQueueIfNeeded(c);
        }, (r) => {
            if (ws.state === "writable") wsCtrlClearAlgorithms(c);
            wsFinishInFlightWriteWithError(ws, r);
        });
    }
}

function wsCtrlErrorIfNeeded(c, e) {
    if (c.stream.state === "writable") wsCtrlError(c, e);
}

function wsCtrlError(c, e) {
    wsCtrlClearAlgorithms(c);
    wsStartErroring(c.stream, e);
}

/* ---- WritableStreamDefaultWriter ---- */

class WritableStreamDefaultWriter {
    constructor(stream) {
        const ws = slotsOf(stream, "WritableStream");
        if (ws.writer !== null) throw new TypeError("WritableStream is locked to a writer");
        const w = { kind: "Writer", stream: ws, ready: newPromise(), closed: newPromise() };
        streamSlots.set(this, w);
        ws.writer = w;
        const state = ws.state;
        if (state === "writable") {
            if (!wsCloseQueuedOrInFlight(ws) && ws.backpressure) { /* ready stays pending */ }
            else w.ready.resolve(undefined);
        } else if (state === "erroring") {
            w.ready.reject(ws.storedError);
            markHandled(w.ready.promise);
        } else if (state === "closed") {
            w.ready.resolve(undefined);
            w.closed.resolve(undefined);
        } else {
            w.ready.reject(ws.storedError);
            markHandled(w.ready.promise);
            w.closed.reject(ws.storedError);
            markHandled(w.closed.promise);
        }
    }
    get closed() { return slotsOf(this, "Writer").closed.promise; }
    get ready() { return slotsOf(this, "Writer").ready.promise; }
    get desiredSize() {
        const w = slotsOf(this, "Writer");
        if (w.stream === null) throw new TypeError("the writer was released");
        const state = w.stream.state;
        if (state === "errored" || state === "erroring") return null;
        if (state === "closed") return 0;
        return wsCtrlGetDesiredSize(w.stream.controller);
    }
    abort(reason = undefined) {
        const w = writerSlots(this);
        if (w instanceof Promise) return w;
        return wsAbort(w.stream, reason);
    }
    close() {
        const w = writerSlots(this);
        if (w instanceof Promise) return w;
        if (wsCloseQueuedOrInFlight(w.stream))
            return Promise.reject(new TypeError("the stream is already closing"));
        return wsClose(w.stream);
    }
    releaseLock() {
        const w = slotsOf(this, "Writer");
        if (w.stream !== null) writerRelease(w);
    }
    write(chunk = undefined) {
        const w = writerSlots(this);
        if (w instanceof Promise) return w;
        return writerWrite(w, chunk);
    }
}
Object.defineProperty(WritableStreamDefaultWriter.prototype, Symbol.toStringTag,
                      { value: "WritableStreamDefaultWriter" });

/* The writer's slots, or a rejected promise (the method's result) when it cannot act. */
function writerSlots(self) {
    let w;
    try {
        w = slotsOf(self, "Writer");
    } catch (e) {
        return Promise.reject(e);
    }
    if (w.stream === null) return Promise.reject(new TypeError("the writer was released"));
    return w;
}

/* A pending promise is rejected; a settled one is replaced by a rejected one. */
function ensureRejected(w, which, error) {
    if (w[which].settled) w[which] = newPromise();
    w[which].reject(error);
    markHandled(w[which].promise);
}

function writerEnsureReadyRejected(w, error) {
    ensureRejected(w, "ready", error);
}

function writerEnsureClosedRejected(w, error) {
    ensureRejected(w, "closed", error);
}

function writerRelease(w) {
    const ws = w.stream;
    const e = new TypeError("the writer was released");
    writerEnsureReadyRejected(w, e);
    writerEnsureClosedRejected(w, e);
    ws.writer = null;
    w.stream = null;
}

function writerWrite(w, chunk) {
    const ws = w.stream;
    const c = ws.controller;
    const chunkSize = wsCtrlGetChunkSize(c, chunk);
    if (w.stream !== ws) return Promise.reject(new TypeError("the writer was released"));
    const state = ws.state;
    if (state === "errored") return Promise.reject(ws.storedError);
    if (wsCloseQueuedOrInFlight(ws) || state === "closed")
        return Promise.reject(new TypeError("the stream is closing or closed"));
    if (state === "erroring") return Promise.reject(ws.storedError);
    const promise = wsAddWriteRequest(ws);
    wsCtrlWrite(c, chunk, chunkSize);
    return promise;
}

/* ---- pipeTo (ReadableStreamPipeTo, one chunk at a time) ---- */

function rsPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal) {
    const reader = acquireReader(source);
    const writer = streamSlots.get(new WritableStreamDefaultWriter(dest.self));
    source.disturbed = true;
    let shuttingDown = false;
    let currentWrite = Promise.resolve();
    const done = newPromise();
    let abortListener = null;

    const finalize = (isError, error) => {
        writerRelease(writer);
        readerRelease(reader);
        if (signal !== undefined && abortListener)
            signal.removeEventListener("abort", abortListener);
        if (isError) done.reject(error);
        else done.resolve(undefined);
    };
    const waitWrites = () => {
        const w = currentWrite;
        return w.then(() => (w !== currentWrite ? waitWrites() : undefined), () => undefined);
    };
    const shutdownWithAction = (action, isError, error) => {
        if (shuttingDown) return;
        shuttingDown = true;
        const run = () => action().then(() => finalize(isError, error),
                                        (e) => finalize(true, e));
        if (dest.state === "writable" && !wsCloseQueuedOrInFlight(dest)) waitWrites().then(run);
        else run();
    };
    const shutdown = (isError, error) => {
        if (shuttingDown) return;
        shuttingDown = true;
        if (dest.state === "writable" && !wsCloseQueuedOrInFlight(dest))
            waitWrites().then(() => finalize(isError, error));
        else finalize(isError, error);
    };

    if (signal !== undefined) {
        abortListener = () => {
            const error = signal.reason;
            const actions = [];
            if (!preventAbort) actions.push(() => dest.state === "writable"
                ? wsAbort(dest, error) : Promise.resolve());
            if (!preventCancel) actions.push(() => source.state === "readable"
                ? rsCancel(source, error) : Promise.resolve());
            shutdownWithAction(() => Promise.all(actions.map((a) => a())), true, error);
        };
        if (signal.aborted) {
            abortListener();
            return done.promise;
        }
        signal.addEventListener("abort", abortListener);
    }

    /* errors and closings, in both directions */
    const onSourceErrored = (e) => {
        if (!preventAbort) shutdownWithAction(() => wsAbort(dest, e), true, e);
        else shutdown(true, e);
    };
    const onDestErrored = (e) => {
        if (!preventCancel) shutdownWithAction(() => rsCancel(source, e), true, e);
        else shutdown(true, e);
    };
    const onSourceClosed = () => {
        if (!preventClose) shutdownWithAction(() => writerCloseWithErrorPropagation(writer));
        else shutdown();
    };
    reader.closed.promise.then(() => onSourceClosed(), (e) => onSourceErrored(e));
    writer.closed.promise.then(undefined, (e) => onDestErrored(e));
    if (source.state === "errored") onSourceErrored(source.storedError);
    else if (dest.state === "errored" || dest.state === "erroring") onDestErrored(dest.storedError);
    else if (source.state === "closed") onSourceClosed();
    else if (wsCloseQueuedOrInFlight(dest) || dest.state === "closed") {
        const e = new TypeError("the destination is closing or closed");
        if (!preventCancel) shutdownWithAction(() => rsCancel(source, e), true, e);
        else shutdown(true, e);
    }

    const step = () => {
        if (shuttingDown) return;
        writer.ready.promise.then(() => {
            if (shuttingDown) return;
            readerReadWith(reader, {
                chunk: (chunk) => {
                    currentWrite = markHandled(writerWrite(writer, chunk));
                    queueMicrotask(step);
                },
                close: () => {},
                error: () => {},
            });
        }, () => {});
    };
    step();
    return done.promise;
}

function writerCloseWithErrorPropagation(w) {
    const ws = w.stream;
    const state = ws.state;
    if (wsCloseQueuedOrInFlight(ws) || state === "closed") return Promise.resolve();
    if (state === "errored") return Promise.reject(ws.storedError);
    return wsClose(ws);
}

/* ---- TransformStream ---- */

class TransformStream {
    #readable;
    #writable;
    constructor(transformer = undefined, writableStrategy = undefined,
                readableStrategy = undefined) {
        const t = transformer === null ? undefined : transformer;
        if (t !== undefined && (t.readableType !== undefined || t.writableType !== undefined))
            throw new RangeError("TransformStream: invalid readableType or writableType");
        const readableHWM = extractHighWaterMark(readableStrategy, 0);
        const readableSize = extractSizeAlgorithm(readableStrategy);
        const writableHWM = extractHighWaterMark(writableStrategy, 1);
        const writableSize = extractSizeAlgorithm(writableStrategy);
        const start = getMethod(t, "start", "transformer");
        const transform = getMethod(t, "transform", "transformer");
        const flush = getMethod(t, "flush", "transformer");
        const cancel = getMethod(t, "cancel", "transformer");
        const ts = { kind: "TransformStream", backpressure: undefined,
                     backpressureChange: null, controller: null, readable: null,
                     writable: null };
        streamSlots.set(this, ts);
        const startPromise = newPromise();
        /* InitializeTransformStream */
        const writable = Object.create(WritableStream.prototype);
        ts.writable = newWSSlots(writable);
        setUpWSController(ts.writable, () => startPromise.promise,
            (chunk) => tsSinkWrite(ts, chunk), () => tsSinkClose(ts),
            (reason) => tsSinkAbort(ts, reason), writableHWM, writableSize);
        const readable = Object.create(ReadableStream.prototype);
        ts.readable = { kind: "ReadableStream", state: "readable", reader: null,
                        storedError: undefined, disturbed: false, controller: null,
                        self: readable };
        streamSlots.set(readable, ts.readable);
        setUpRSController(ts.readable, () => startPromise.promise, () => tsSourcePull(ts),
            (reason) => tsSourceCancel(ts, reason), readableHWM, readableSize);
        tsSetBackpressure(ts, true);
        /* SetUpTransformStreamDefaultControllerFromTransformer */
        const self = Object.create(TransformStreamDefaultController.prototype);
        const c = { kind: "TSController", self, stream: ts, finishPromise: null,
                    transformAlgorithm: transform
                        ? (chunk) => promiseCall(transform, t, [chunk, self])
                        : (chunk) => {
                            try {
                                tsCtrlEnqueue(c, chunk);
                                return Promise.resolve();
                            } catch (e) {
                                return Promise.reject(e);
                            }
                        },
                    flushAlgorithm: () => promiseCall(flush, t, [self]),
                    cancelAlgorithm: (r) => promiseCall(cancel, t, [r]) };
        streamSlots.set(self, c);
        ts.controller = c;
        this.#readable = readable;
        this.#writable = writable;
        try {
            startPromise.resolve(start ? start.call(t, self) : undefined);
        } catch (e) {
            startPromise.reject(e);
            throw e;
        }
    }
    get readable() { return this.#readable; }
    get writable() { return this.#writable; }
}
Object.defineProperty(TransformStream.prototype, Symbol.toStringTag, { value: "TransformStream" });

class TransformStreamDefaultController {
    constructor() {
        throw new TypeError("Illegal constructor");
    }
    get desiredSize() {
        const c = slotsOf(this, "TSController");
        return rsCtrlDesiredSize(c.stream.readable.controller);
    }
    enqueue(chunk = undefined) { tsCtrlEnqueue(slotsOf(this, "TSController"), chunk); }
    error(reason = undefined) { tsError(slotsOf(this, "TSController").stream, reason); }
    terminate() {
        const c = slotsOf(this, "TSController");
        const ts = c.stream;
        rsCtrlClose(ts.readable.controller);
        tsErrorWritableAndUnblockWrite(ts, new TypeError("the TransformStream was terminated"));
    }
}
Object.defineProperty(TransformStreamDefaultController.prototype, Symbol.toStringTag,
                      { value: "TransformStreamDefaultController" });

function tsCtrlEnqueue(c, chunk) {
    const ts = c.stream;
    const rc = ts.readable.controller;
    if (!rsCtrlCanCloseOrEnqueue(rc))
        throw new TypeError("the readable side is not in a state that permits enqueue");
    try {
        rsCtrlEnqueue(rc, chunk);
    } catch (e) {
        tsErrorWritableAndUnblockWrite(ts, e);
        throw ts.readable.storedError;
    }
    const backpressure = rsCtrlHasBackpressure(rc);
    if (backpressure !== ts.backpressure) tsSetBackpressure(ts, true);
}

function tsError(ts, e) {
    rsCtrlError(ts.readable.controller, e);
    tsErrorWritableAndUnblockWrite(ts, e);
}

function tsErrorWritableAndUnblockWrite(ts, e) {
    const c = ts.controller;
    c.transformAlgorithm = undefined;
    c.flushAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
    wsCtrlErrorIfNeeded(ts.writable.controller, e);
    tsUnblockWrite(ts);
}

function tsUnblockWrite(ts) {
    if (ts.backpressure) tsSetBackpressure(ts, false);
}

function tsSetBackpressure(ts, backpressure) {
    if (ts.backpressureChange !== null) ts.backpressureChange.resolve(undefined);
    ts.backpressureChange = newPromise();
    ts.backpressure = backpressure;
}

function tsPerformTransform(ts, chunk) {
    return ts.controller.transformAlgorithm(chunk).then(undefined, (r) => {
        tsError(ts, r);
        throw r;
    });
}

function tsSinkWrite(ts, chunk) {
    if (ts.backpressure) {
        return ts.backpressureChange.promise.then(() => {
            const w = ts.writable;
            if (w.state === "erroring") throw w.storedError;
            return tsPerformTransform(ts, chunk);
        });
    }
    return tsPerformTransform(ts, chunk);
}

function tsSinkAbort(ts, reason) {
    const c = ts.controller;
    if (c.finishPromise !== null) return c.finishPromise.promise;
    const readable = ts.readable;
    c.finishPromise = newPromise();
    const p = c.cancelAlgorithm ? c.cancelAlgorithm(reason) : Promise.resolve();
    c.transformAlgorithm = c.flushAlgorithm = c.cancelAlgorithm = undefined;
    p.then(() => {
        if (readable.state === "errored") c.finishPromise.reject(readable.storedError);
        else {
            rsCtrlError(readable.controller, reason);
            c.finishPromise.resolve(undefined);
        }
    }, (r) => {
        rsCtrlError(readable.controller, r);
        c.finishPromise.reject(r);
    });
    return c.finishPromise.promise;
}

function tsSinkClose(ts) {
    const c = ts.controller;
    if (c.finishPromise !== null) return c.finishPromise.promise;
    const readable = ts.readable;
    c.finishPromise = newPromise();
    const p = c.flushAlgorithm ? c.flushAlgorithm() : Promise.resolve();
    c.transformAlgorithm = c.flushAlgorithm = c.cancelAlgorithm = undefined;
    p.then(() => {
        if (readable.state === "errored") c.finishPromise.reject(readable.storedError);
        else {
            rsCtrlClose(readable.controller);
            c.finishPromise.resolve(undefined);
        }
    }, (r) => {
        rsCtrlError(readable.controller, r);
        c.finishPromise.reject(r);
    });
    return c.finishPromise.promise;
}

function tsSourcePull(ts) {
    tsSetBackpressure(ts, false);
    return ts.backpressureChange.promise;
}

function tsSourceCancel(ts, reason) {
    const c = ts.controller;
    if (c.finishPromise !== null) return c.finishPromise.promise;
    const writable = ts.writable;
    c.finishPromise = newPromise();
    const p = c.cancelAlgorithm ? c.cancelAlgorithm(reason) : Promise.resolve();
    c.transformAlgorithm = c.flushAlgorithm = c.cancelAlgorithm = undefined;
    p.then(() => {
        if (writable.state === "errored") c.finishPromise.reject(writable.storedError);
        else {
            wsCtrlErrorIfNeeded(writable.controller, reason);
            tsUnblockWrite(ts);
            c.finishPromise.resolve(undefined);
        }
    }, (r) => {
        wsCtrlErrorIfNeeded(writable.controller, r);
        tsUnblockWrite(ts);
        c.finishPromise.reject(r);
    });
    return c.finishPromise.promise;
}

/* ---- TextEncoderStream / TextDecoderStream ---- */

class TextEncoderStream {
    #ts;
    constructor() {
        let pendingHigh = null; /* a lone high surrogate at the end of the last chunk */
        const enc = new TextEncoder();
        this.#ts = new TransformStream({
            transform(chunk, controller) {
                let s = String(chunk);
                if (pendingHigh !== null) {
                    s = pendingHigh + s;
                    pendingHigh = null;
                }
                const last = s.charCodeAt(s.length - 1);
                if (last >= 0xd800 && last <= 0xdbff) {
                    pendingHigh = s[s.length - 1];
                    s = s.slice(0, -1);
                }
                if (s.length) controller.enqueue(enc.encode(s));
            },
            flush(controller) {
                if (pendingHigh !== null) controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
            },
        });
    }
    get encoding() { return "utf-8"; }
    get readable() { return this.#ts.readable; }
    get writable() { return this.#ts.writable; }
}
Object.defineProperty(TextEncoderStream.prototype, Symbol.toStringTag,
                      { value: "TextEncoderStream" });

class TextDecoderStream {
    #ts;
    #dec;
    constructor(label = "utf-8", options = undefined) {
        const dec = new TextDecoder(label, options);
        this.#dec = dec;
        this.#ts = new TransformStream({
            transform(chunk, controller) {
                const u8 = bufferSourceBytes(chunk);
                if (u8 === null)
                    throw new TypeError("TextDecoderStream: chunk is not an ArrayBuffer or view");
                const s = dec.decode(u8, { stream: true });
                if (s) controller.enqueue(s);
            },
            flush(controller) {
                const s = dec.decode();
                if (s) controller.enqueue(s);
            },
        });
    }
    get encoding() { return this.#dec.encoding; }
    get fatal() { return this.#dec.fatal; }
    get ignoreBOM() { return this.#dec.ignoreBOM; }
    get readable() { return this.#ts.readable; }
    get writable() { return this.#ts.writable; }
}
Object.defineProperty(TextDecoderStream.prototype, Symbol.toStringTag,
                      { value: "TextDecoderStream" });

/* For 58_fetch_types.js: has the stream been read from or cancelled? */
function streamDisturbed(stream) {
    return slotsOf(stream, "ReadableStream").disturbed;
}

Object.assign(globalThis, { ReadableStream, ReadableStreamDefaultReader,
    ReadableStreamDefaultController, WritableStream, WritableStreamDefaultWriter,
    WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
    ByteLengthQueuingStrategy, CountQueuingStrategy, TextEncoderStream, TextDecoderStream });
for (const k of ["ReadableStream", "ReadableStreamDefaultReader",
    "ReadableStreamDefaultController", "WritableStream", "WritableStreamDefaultWriter",
    "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy", "CountQueuingStrategy", "TextEncoderStream", "TextDecoderStream"])
    Object.defineProperty(globalThis, k, { enumerable: false });
