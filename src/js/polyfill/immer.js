/* Immer's entry: tools/bundle_polyfill.mjs bundles the npm package `immer` at build time into
 * build/<b>/gen/polyfill_immer.js, embedded in the binary; the actor runtime (47_actors.js)
 * evaluates it on the first actor call of a runtime. Actors' state changes are Immer drafts and
 * their patches are Immer's own (docs/actors.md "Patches"), so they are shaped exactly as
 * Zocket's, which uses Immer too. */
import { Immer, enablePatches } from "immer";

enablePatches();

export { Immer };
