/* fuzz_import_parse: libFuzzer target for proto/import_parse. The input is parsed as each format
 * (table "t" for JSONL, JSON and CSV; the ZIP caps made small so that a declared size cannot
 * make a run slow): never a crash, a leak or an error without a message; what parses holds
 * tables with valid names (a component's "<path>/<table>" from a ZIP's _components/) and
 * documents that pass value_check with no _id/_creationTime left in their fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/import_parse.h"
#include "store/store.h"
#include "store/value.h"

#include "base/banned.h"

static void one(const char *p, size_t n, enum import_format fmt)
{
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct import_set s;
    int rc = import_parse_limits(p, n, fmt, fmt == IMPORT_ZIP ? NULL : "t", 1000, 1 << 20, 4 << 20,
                                 &s, &err);
    if (rc < 0) {
        if (err.len == 0 || s.n || s.n_files)
            abort();
    } else {
        for (size_t i = 0; i < s.n; i++) {
            if (!store_table_name_ok(s.tables[i].name, strlen(s.tables[i].name)))
                abort();
            for (size_t k = 0; k < s.tables[i].n; k++) {
                const struct import_doc *d = &s.tables[i].docs[k];
                json_t *f =
                    json_loadb(d->text, d->len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
                if (!json_is_object(f) || json_object_get(f, "_id") ||
                    json_object_get(f, "_creationTime") || value_check(f, "field", &err) < 0 ||
                    strlen(d->text) > d->len)
                    abort();
                json_decref(f);
            }
        }
        import_set_free(&s);
    }
    buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    one(p, size, IMPORT_JSONL);
    one(p, size, IMPORT_JSON_ARRAY);
    one(p, size, IMPORT_CSV);
    one(p, size, IMPORT_ZIP);
    return 0;
}
