/* process: a minimal Node-style `process` global, as Convex gives functions: `process.env` holds
 * the deployment's environment variables (`vireo env set`, and `.env.local` under `vireo dev`)
 * as strings; an unset name reads as undefined. It is the same frozen object for the whole life
 * of a loaded version (module top-level code, queries, mutations and actions alike): a change of
 * the variables loads the app again. A component's function reads its own instead: the values
 * its parent passed it (54_components.js). 60_harden.js makes the binding itself read-only. */

const processEnv = native.env ? JSON.parse(native.env) : {};
Object.freeze(processEnv);
globalThis.process = Object.freeze(Object.defineProperty({}, "env", {
    get: currentEnv, enumerable: true, configurable: false,
}));
