/* URL and URLSearchParams: the WHATWG URL parser of core-js-pure (bundled at build time and
 * embedded apart from the prelude, see the Makefile), evaluated on the first use in a runtime
 * (native.polyfill): parsing and starting it cost ~25 ms of CPU, which apps that never parse a
 * URL should not pay at every runtime start. The
 * classes here are thin wrappers that keep the core-js objects out of the app's reach (frozen
 * once loaded) and give Node's error for input that does not parse: TypeError "Invalid URL"
 * with code ERR_INVALID_URL and the `input`. Deterministic: available in queries and mutations. */

let urlCoreLoaded = null;
function urlCore() {
    if (urlCoreLoaded === null) {
        const g = Object.create(globalThis); /* the polyfill's own global object */
        /* core-js assigns onto its WeakMaps (`store.get = store.get`), which a frozen
         * WeakMap.prototype refuses; a WeakMap that is not the built-in makes it keep its state
         * in hidden properties of its own objects instead */
        const shadow = (name, value) => Object.defineProperty(g, name, { value, writable: true,
                                                                        configurable: true });
        shadow("WeakMap", class WeakMap extends globalThis.WeakMap {});
        /* core-js probes for a native URL (`new URL(...)`): it must not find these wrappers,
         * which would load it again from inside its own loading */
        shadow("URL", undefined);
        shadow("URLSearchParams", undefined);
        const c = native.polyfill("url")(g);
        harden([c.URL, c.URLSearchParams]); /* 60_harden.js: nothing a call does may stay */
        urlCoreLoaded = c;
    }
    return urlCoreLoaded;
}

const urlOf = new WeakMap();    /* URL -> core-js URL */
const paramsOf = new WeakMap(); /* URLSearchParams -> core-js URLSearchParams */
const paramsView = new WeakMap(); /* URL -> the URLSearchParams of its searchParams */

function invalidURL(input) {
    const e = new TypeError("Invalid URL");
    e.code = "ERR_INVALID_URL";
    e.input = input;
    return e;
}

function missingArg(name) {
    const e = new TypeError(`The "${name}" argument must be specified`);
    e.code = "ERR_MISSING_ARGS";
    return e;
}

function own(map, self, what) {
    const x = map.get(self);
    if (x === undefined) throw new TypeError(`Illegal invocation: not a ${what}`);
    return x;
}

const coreUrl = (self) => own(urlOf, self, "URL");
const coreParams = (self) => own(paramsOf, self, "URLSearchParams");

function parseURL(url, base) {
    const input = String(url);
    const C = urlCore().URL;
    try {
        return base === undefined ? new C(input) : new C(input, String(base));
    } catch (e) {
        if (e instanceof TypeError) throw invalidURL(input);
        throw e;
    }
}

class URL {
    constructor(url, base) {
        if (arguments.length === 0) throw missingArg("url");
        urlOf.set(this, parseURL(url, base));
    }

    get href() { return coreUrl(this).href; }
    set href(value) {
        const u = coreUrl(this), input = String(value);
        try {
            u.href = input;
        } catch (e) {
            if (e instanceof TypeError) throw invalidURL(input);
            throw e;
        }
    }

    get origin() { return coreUrl(this).origin; }
    get searchParams() {
        let p = paramsView.get(this);
        if (p === undefined) {
            p = Object.create(URLSearchParams.prototype);
            paramsOf.set(p, coreUrl(this).searchParams);
            paramsView.set(this, p);
        }
        return p;
    }

    toString() { return coreUrl(this).href; }
    toJSON() { return coreUrl(this).href; }

    static canParse(url, base) {
        if (arguments.length === 0) throw missingArg("url");
        try {
            parseURL(url, base);
            return true;
        } catch (e) {
            return false;
        }
    }

    static parse(url, base) {
        if (arguments.length === 0) throw missingArg("url");
        try {
            const u = Object.create(URL.prototype);
            urlOf.set(u, parseURL(url, base));
            return u;
        } catch (e) {
            return null;
        }
    }
}
for (const name of ["protocol", "username", "password", "host", "hostname", "port", "pathname",
                    "search", "hash"]) {
    Object.defineProperty(URL.prototype, name, {
        get() { return coreUrl(this)[name]; },
        set(value) { coreUrl(this)[name] = value; },
        enumerable: true,
        configurable: true,
    });
}
Object.defineProperty(URL.prototype, Symbol.toStringTag, { value: "URL", configurable: true });

class URLSearchParams {
    constructor(init = undefined) {
        const x = paramsOf.get(init);
        paramsOf.set(this, new (urlCore().URLSearchParams)(x !== undefined ? x : init));
    }

    get size() { return coreParams(this).size; }

    forEach(callback, thisArg) {
        if (typeof callback !== "function") throw argTypeError("callback", "of type function",
                                                                callback);
        for (const [k, v] of coreParams(this)) callback.call(thisArg, v, k, this);
    }

    *entries() { yield* coreParams(this).entries(); }
    *keys() { yield* coreParams(this).keys(); }
    *values() { yield* coreParams(this).values(); }
    [Symbol.iterator]() { return this.entries(); }
}
for (const name of ["append", "delete", "get", "getAll", "has", "set", "sort", "toString"]) {
    Object.defineProperty(URLSearchParams.prototype, name, {
        value: { [name](...args) { return coreParams(this)[name](...args); } }[name],
        writable: true,
        configurable: true,
    });
}
Object.defineProperty(URLSearchParams.prototype, Symbol.toStringTag,
                      { value: "URLSearchParams", configurable: true });

globalThis.URL = URL;
globalThis.URLSearchParams = URLSearchParams;
