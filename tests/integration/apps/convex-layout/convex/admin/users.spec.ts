import { describe } from "vitest";
describe("SPEC_FILE_MARKER", () => {});
