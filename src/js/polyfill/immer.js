/* Immer's entry: tools/bundle_polyfill.mjs bundles the npm package `immer` at build time into
 * build/<b>/gen/polyfill_immer.js, embedded in the binary; the actor runtime (47_actors.js,
 * actorImmer) evaluates it on the first draft whose fast mode (46_draft.js) hands over to it.
 * Actors' state changes have Immer's semantics and their patches are Immer's (docs/actors.md "Patches"), so they are shaped exactly as
 * Zocket's, which uses Immer too. */
import { Immer, enablePatches } from "immer";

enablePatches();

export { Immer };
