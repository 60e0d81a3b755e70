// A test file beside the functions, as convex-test users keep them: never bundled (vitest is
// not even installed here, so bundling it would fail).
import { expect, test } from "vitest";

test("TEST_FILE_MARKER", () => {
  expect(1).toBe(1);
});
