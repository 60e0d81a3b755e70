/* The URL polyfill's entry: esbuild bundles it at build time (Makefile, `PRELUDE_GEN`) from the
 * npm package core-js-pure into build/<b>/gen/prelude/56_url_polyfill.js, a script that declares
 * `urlPolyfill` = {URL, URLSearchParams} inside the prelude's private scope. core-js-pure leaves
 * the global object and the built-ins alone; 57_url.js wraps the classes and installs them. */
import URL from "core-js-pure/web/url";
import URLSearchParams from "core-js-pure/web/url-search-params";

export { URL, URLSearchParams };
