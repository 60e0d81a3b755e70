/* The URL polyfill's entry: tools/bundle_polyfill.mjs bundles it at build time from the npm
 * package core-js-pure into build/<b>/gen/polyfill_url.js, embedded in the binary; the prelude
 * (57_url.js) evaluates it on the first use of URL or URLSearchParams. core-js-pure leaves the
 * global object and the built-ins alone; 57_url.js wraps the classes and installs them. */
import URL from "core-js-pure/web/url";
import URLSearchParams from "core-js-pure/web/url-search-params";

export { URL, URLSearchParams };
