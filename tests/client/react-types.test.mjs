// @vireo/react's query-hook and preloadQuery declarations, checked by the real TypeScript compiler
// (`tsc --strict`) on tests/client/react-types/uses.ts: args and results inferred from typed
// references (Convex's `_args` / `_returnType`), useQueryWithStatus and usePaginatedQuery narrowing
// on status, the optimistic update's local store, untyped names, and the errors that must be
// reported (@ts-expect-error lines).
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const TSC = path.join(here, "../../node_modules/typescript/bin/tsc");

test("tsc --strict accepts the typed uses of the query hooks and reports the wrong ones", { timeout: 120000 }, () => {
    const r = spawnSync(process.execPath, [TSC, "-p", path.join(here, "react-types")], { encoding: "utf8", timeout: 110000 });
    assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
