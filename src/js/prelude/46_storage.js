/* storage: ctx.storage (Convex's file storage). Files are documents of the system table
 * `_storage` ({sha256, size, contentType?}) with their bytes on the server's disk
 * (native_storage.c, proto/http_storage.c). Queries read (getUrl, getMetadata), mutations also
 * write (generateUploadUrl, delete); actions reach both through the built-in internal functions
 * `_system/storage:*`, run like their ctx.runQuery / ctx.runMutation calls, and also read and
 * write bytes (get, store): the file I/O on the action's own thread, the document through
 * `_system/storage:getMetadata` / `:store`. */

const STORAGE_META_PATH = "_system/storage:getMetadata";
const STORAGE_URL_PATH = "_system/storage:generateUploadUrl";
const STORAGE_DELETE_PATH = "_system/storage:delete";
const STORAGE_STORE_PATH = "_system/storage:store";

/* An action worker's runtime has no store to tell an id's table: there only the type is checked
 * here, and the table by the system function on the shard. */
function checkStorageId(id, what) {
    if (typeof id !== "string" || (!native.remote && native.idTable(id) !== "_storage"))
        throw new Error(`${what}: Invalid storage ID: ${JSON.stringify(String(id))}`);
    return id;
}

function storageMetadata(id, what = "storage.getMetadata()") {
    checkStorageId(id, what);
    const t = native.get(id, null);
    if (t === null) return null;
    const d = decode(t);
    return { storageId: d._id, sha256: d.sha256, size: d.size,
             contentType: d.contentType === undefined ? null : d.contentType };
}

/* The app's getMetadata(): its sha256 is hex in Convex (the `_storage` document's, which the
 * system function and file serving use, is base64) */
function appMetadata(m) {
    if (m === null) return null;
    const bin = atob(m.sha256);
    let hex = "";
    for (let i = 0; i < bin.length; i++) hex += HEX[bin.charCodeAt(i)]; /* 58_crypto.js */
    return { ...m, sha256: hex };
}

function storageUrl(id) {
    checkStorageId(id, "storage.getUrl()");
    return native.get(id, null) === null ? null : `${native.storageBase()}/api/storage/${id}`;
}

const storageReader = Object.freeze({
    async getUrl(id) { return storageUrl(id); },
    async getMetadata(id) { return appMetadata(storageMetadata(id)); },
});

const storageWriter = Object.freeze({
    getUrl: storageReader.getUrl,
    getMetadata: storageReader.getMetadata,
    async generateUploadUrl() { return native.storageUploadUrl(); },
    async delete(id) {
        checkStorageId(id, "storage.delete()");
        native.storageDelete(id);
    },
});

const storageAction = Object.freeze({
    async getUrl(id) {
        checkStorageId(id, "storage.getUrl()");
        const m = await runNested(QUERY, STORAGE_META_PATH, { id, what: "storage.getUrl()" });
        return m === null ? null : `${native.storageBase()}/api/storage/${id}`;
    },
    async getMetadata(id) {
        checkStorageId(id, "storage.getMetadata()");
        return appMetadata(await runNested(QUERY, STORAGE_META_PATH, { id }));
    },
    async generateUploadUrl() { return runNested(MUTATION, STORAGE_URL_PATH, {}); },
    async delete(id) {
        checkStorageId(id, "storage.delete()");
        await runNested(MUTATION, STORAGE_DELETE_PATH, { id });
    },
    /* The file's bytes as a Blob of its contentType, or null when there is no such file; read
     * whole into memory (at most a quarter of the memory limit: FileTooLarge past it). */
    async get(id) {
        checkStorageId(id, "storage.get()");
        const m = await runNested(QUERY, STORAGE_META_PATH, { id, what: "storage.get()" });
        if (m === null) return null;
        const bytes = native.storageRead(id);
        if (bytes === null) return null; /* deleted since */
        const blob = new Blob([], { type: m.contentType === null ? "" : m.contentType });
        blobBytes.set(blob, new Uint8Array(bytes)); /* 58_blob.js: the bytes, not copied */
        return blob;
    },
    /* A new file of the Blob's bytes and type: written to a temporary file and fsynced here,
     * then made a `_storage` document (and renamed to its id) by one mutation. Not part of any
     * transaction of the action's: the file stays even if the action then fails (as Convex). */
    async store(blob, options) {
        if (!(blob instanceof Blob))
            throw new Error("store() expects a Blob. If you are trying to store a Request, " +
                "`await request.blob()` will give you the correct input.");
        const want = options === undefined || options === null || options.sha256 === undefined
            ? null : String(options.sha256);
        const bytes = blobBytes.get(blob);
        const [tmp, sha256] = native.storageWriteTmp(bytes, want);
        const args = { tmp, sha256, size: bytes.length };
        if (blob.type !== "") args.contentType = blob.type;
        try {
            return await runNested(MUTATION, STORAGE_STORE_PATH, args);
        } catch (e) {
            native.storageRemoveTmp(tmp);
            throw e;
        }
    },
});

SYSTEM_FUNCTIONS.push(
    { path: STORAGE_META_PATH, query: true,
      handler: (ctx, a) => storageMetadata(a.id, typeof a.what === "string" ? a.what
                                                                        : undefined) },
    { path: STORAGE_URL_PATH, handler: () => native.storageUploadUrl() },
    { path: STORAGE_DELETE_PATH,
      handler: (ctx, a) => { checkStorageId(a.id, "storage.delete()"); native.storageDelete(a.id);
                             return null; } },
    /* the HTTP upload's and an action's store() mutation: the bytes are in a temporary file */
    { path: STORAGE_STORE_PATH,
      handler: (ctx, a) => native.storageCommit(a.tmp, a.sha256, a.size,
                                                a.contentType === undefined ? null : a.contentType,
                                                a.nonce === undefined ? null : a.nonce) },
);
