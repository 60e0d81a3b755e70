// What `convex/values`, `convex/server` and `convex/browser` give a bundled Convex app: the test
// compares these lists with the installed `convex` package's runtime exports.
import * as values from "convex/values";
import * as server from "convex/server";
import * as browser from "convex/browser";
import { queryGeneric } from "convex/server";

const kinds = (m: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k] === undefined ? "undefined" : typeof m[k]]));

export const list = queryGeneric({
  args: {},
  handler: async () => ({ values: kinds(values), server: kinds(server), browser: kinds(browser) }),
});

// every stub throws only when called, with a message naming the feature
export const stubs = queryGeneric({
  args: {},
  handler: async () => {
    const out: Record<string, string> = {};
    const attempt = async (name: string, f: () => unknown) => {
      try {
        await f();
        out[name] = "no error";
      } catch (e: any) {
        out[name] = e.message;
      }
    };
    await attempt("defineApp", () => server.defineApp());
    await attempt("defineComponent", () => server.defineComponent("x"));
    await attempt("createFunctionHandle", () => server.createFunctionHandle(server.anyApi.a.b as any)); // not a function of this app
    await attempt("components", () => server.getFunctionName((server.componentsGeneric() as any).rag.search));
    await attempt("handleName", () => server.getFunctionName("function://a:b" as any));
    await attempt("ConvexHttpClient", () => new browser.ConvexHttpClient("http://x")); // real (fetch: in actions)
    await attempt("ConvexClient", () => new browser.ConvexClient("http://x"));
    await attempt("BaseConvexClient", () => new (browser.BaseConvexClient as any)("http://x"));
    return out;
  },
});

// the helpers that are real: references, JSON conversion, sizes, base64, comparisons
export const helpers = queryGeneric({
  args: {},
  handler: async () => ({
    ref: server.getFunctionName(server.makeFunctionReference("messages:list") as any),
    anyApi: server.getFunctionName(server.anyApi.admin.users.count as any),
    anyApiDefault: server.getFunctionName(server.anyApi.admin.users.default as any),
    address: server.getFunctionAddress(server.anyApi.messages.list as any),
    filterApi: server.filterApi(server.anyApi) === server.anyApi,
    toJson: JSON.stringify(values.convexToJson({ n: 5n, b: new Uint8Array([1, 2]).buffer, f: NaN, s: "x" })),
    fromJson: values.jsonToConvex({ $integer: "BQAAAAAAAAA=" }) === 5n,
    size: values.getConvexSize({ a: "xy", n: 1 }),
    docSize: values.getDocumentSize({ a: 1 }),
    base64: values.Base64.fromByteArray(new Uint8Array([104, 105])),
    compare: values.compareValues(1n, 1),
    errorName: new values.ConvexError({ x: 1 }).name,
    errorData: new values.ConvexError({ x: 1 }).data,
    routable: server.ROUTABLE_HTTP_METHODS,
    pagination: server.paginationOptsValidator.json,
    paginationResult: server.paginationResultValidator(values.v.string()).kind,
    queryOptions: browser.convexQueryOptions({ query: 1 } as any),
    tableShape: tableShape(),
  }),
});

// a table definition's fields, as libraries read them (convex-helpers' stream.js)
function tableShape() {
  const t: any = server.defineTable({ a: values.v.string(), e: values.v.array(values.v.float64()) })
    .index("by_a", ["a"])
    .searchIndex("s", { searchField: "a" })
    .vectorIndex("ve", { vectorField: "e", dimensions: 2 });
  return {
    indexes: t.indexes.map((i: any) => [i.indexDescriptor, i.fields]),
    search: t.searchIndexes.map((i: any) => [i.indexDescriptor, i.searchField, i.filterFields]),
    vector: t.vectorIndexes.map((i: any) => [i.indexDescriptor, i.vectorField, i.dimensions]),
    staged: [t.stagedDbIndexes, t.stagedSearchIndexes, t.stagedVectorIndexes],
    viaMethod: t[" indexes"]().length,
  };
}
