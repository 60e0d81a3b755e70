/* URL and URLSearchParams: the WHATWG URL parser of core-js-pure (bundled at build time into
 * 56_url_polyfill.js as `urlPolyfill`, see the Makefile), with Node's error for input that does
 * not parse: TypeError "Invalid URL" with code ERR_INVALID_URL and the `input`. Deterministic:
 * available in queries and mutations too. */

const CoreURL = urlPolyfill.URL;

function invalidURL(input) {
    const e = new TypeError("Invalid URL");
    e.code = "ERR_INVALID_URL";
    e.input = input;
    return e;
}

class URL extends CoreURL {
    constructor(url, base) {
        if (arguments.length === 0) {
            const e = new TypeError('The "url" argument must be specified');
            e.code = "ERR_MISSING_ARGS";
            throw e;
        }
        const input = String(url);
        try {
            if (base === undefined) super(input);
            else super(input, String(base));
        } catch (e) {
            if (e instanceof TypeError) throw invalidURL(input);
            throw e;
        }
    }

    get href() {
        return super.href;
    }

    set href(value) {
        const input = String(value);
        try {
            super.href = input;
        } catch (e) {
            if (e instanceof TypeError) throw invalidURL(input);
            throw e;
        }
    }

    static canParse(url, base) {
        try {
            new URL(url, base);
            return true;
        } catch (e) {
            return false;
        }
    }

    static parse(url, base) {
        try {
            return new URL(url, base);
        } catch (e) {
            return null;
        }
    }
}
Object.defineProperty(URL.prototype, Symbol.toStringTag, { value: "URL", configurable: true });

globalThis.URL = URL;
globalThis.URLSearchParams = urlPolyfill.URLSearchParams;
