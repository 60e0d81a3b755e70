/* import_parse: each format's documents, every error message, CSV quoting, and ZIPs built here
 * with libzip (Convex's export layout: generated_schema decoding by shape and by override,
 * "uniform" export JSON, _storage files, the decompression caps). */
#include "test.h"

#include <math.h>
#include <zip.h>

#include "base/buf.h"
#include "proto/import_parse.h"

static struct buf err = BUF_INIT(BUF_NOLIMIT);

static int parse(enum import_format fmt, const char *table, const char *text, size_t max_docs,
                 struct import_set *s)
{
    return import_parse(text, strlen(text), fmt, table, max_docs, s, &err);
}

/* 1 when parsing fails with a message containing want */
static int fails_with(enum import_format fmt, const char *table, const char *text, const char *want)
{
    struct import_set s;
    int rc = parse(fmt, table, text, 0, &s);
    if (rc == 0) {
        fprintf(stderr, "expected an error containing \"%s\", parsed %s\n", want, text);
        import_set_free(&s);
        return 0;
    }
    if (!strstr(err.data, want)) {
        fprintf(stderr, "expected an error containing \"%s\", got \"%s\"\n", want, err.data);
        return 0;
    }
    if (s.n || s.tables || s.n_files)
        return 0;
    return 1;
}

/* 1 when v dumps (compact, keys sorted) to want */
/* A document's text, parsed as the store parses it, equals want (keys sorted). */
static int is_json(const char *text, const char *want)
{
    json_t *v = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
    char *d =
        json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(v);
    int ok = d && !strcmp(d, want);
    if (!ok)
        fprintf(stderr, "got %s, want %s\n", d ? d : "(null)", want);
    free(d);
    return ok;
}

TEST(formats_by_name_and_extension)
{
    enum import_format f;
    CHECK(import_format_parse("jsonl", 5, &f) == 0 && f == IMPORT_JSONL);
    CHECK(import_format_parse("jsonLines", 9, &f) == 0 && f == IMPORT_JSONL);
    CHECK(import_format_parse("json", 4, &f) == 0 && f == IMPORT_JSON_ARRAY);
    CHECK(import_format_parse("jsonArray", 9, &f) == 0 && f == IMPORT_JSON_ARRAY);
    CHECK(import_format_parse("csv", 3, &f) == 0 && f == IMPORT_CSV);
    CHECK(import_format_parse("zip", 3, &f) == 0 && f == IMPORT_ZIP);
    CHECK(import_format_parse("zipx", 3, &f) == 0 && f == IMPORT_ZIP); /* len counts */
    CHECK(import_format_parse("xml", 3, &f) < 0);
    CHECK(import_format_parse("json", 3, &f) < 0);
    CHECK(import_format_of_path("a/b/data.jsonl", &f) == 0 && f == IMPORT_JSONL);
    CHECK(import_format_of_path("x.ndjson", &f) == 0 && f == IMPORT_JSONL);
    CHECK(import_format_of_path("x.JSON", &f) == 0 && f == IMPORT_JSON_ARRAY);
    CHECK(import_format_of_path("x.csv", &f) == 0 && f == IMPORT_CSV);
    CHECK(import_format_of_path("snap.zip", &f) == 0 && f == IMPORT_ZIP);
    CHECK(import_format_of_path("x.txt", &f) < 0);
    CHECK(import_format_of_path("noext", &f) < 0);
    CHECK(import_format_of_path("dir.zip/file", &f) < 0);
}

TEST(jsonl_documents)
{
    struct import_set s;
    const char *text = "{\"_id\":\"k1\",\"_creationTime\":1700000000000.5,\"a\":1}\n"
                       "   \n"
                       "{\"n\":{\"$integer\":\"KgAAAAAAAAA=\"},\"s\":\"x\\u0000y\"}\r\n"
                       "{\"nested\":{\"b\":[1,{\"$bytes\":\"AQID\"}]}}";
    CHECK_EQ_INT(parse(IMPORT_JSONL, "items", text, 0, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.tables[0].name, "items");
    CHECK_EQ_STR(s.tables[0].source, "the file");
    CHECK_EQ_INT(s.tables[0].n, 3);
    struct import_doc *d = s.tables[0].docs;
    CHECK_EQ_STR(d[0].id, "k1");
    CHECK(d[0].ct == 1700000000000.5);
    CHECK_EQ_INT(d[0].line, 1);
    CHECK(is_json(d[0].text, "{\"a\":1.0}"));
    CHECK(d[1].id == NULL && isnan(d[1].ct));
    CHECK_EQ_INT(d[1].line, 3);
    CHECK(is_json(d[1].text, "{\"n\":{\"$integer\":\"KgAAAAAAAAA=\"},\"s\":\"x\\u0000y\"}"));
    CHECK_EQ_INT(d[2].line, 4);
    CHECK_EQ_INT(s.n_files, 0);
    import_set_free(&s);
    CHECK_EQ_INT(parse(IMPORT_JSONL, "t", "", 0, &s), 0); /* an empty table */
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.tables[0].n, 0);
    import_set_free(&s);
}

TEST(jsonl_errors)
{
    CHECK(fails_with(IMPORT_JSONL, "t", "{}\n{}\n{\"a\":}\n",
                     "line 3 of the file: malformed JSON: "));
    CHECK(fails_with(IMPORT_JSONL, "t", "[1]\n",
                     "line 1 of the file: a document must be a JSON "
                     "object, not an array"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{}\n5\n",
                     "line 2 of the file: a document must be a "
                     "JSON object, not a number"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"_id\":5}",
                     "line 1 of the file: field `_id`: must be "
                     "a non-empty string"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"_creationTime\":-1}",
                     "line 1 of the file: field `_creationTime`: must be a finite number >= 0"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"_creationTime\":\"1\"}",
                     "field `_creationTime`: must be a finite number"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"_creationTime\":{\"$float\":\"AAAAAAAA8H8=\"}}",
                     "field `_creationTime`: must be a finite number"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"a\":1}\n{\"_x\":1}",
                     "line 2 of the file: field `_x`: field names starting with _ are reserved"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"a\":{\"b\":{\"$integer\":\"xx\"}}}",
                     "line 1 of the file: field `a.b`: malformed `$integer` value"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"a\":{\"$x\":1}}",
                     "line 1 of the file: field `a`: malformed '$' object"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"a\":1,\"a\":2}",
                     "line 1 of the file: malformed JSON: duplicate object key"));
    CHECK(fails_with(IMPORT_JSONL, "t", "\xEF\xBB\xBF{}", "byte order mark"));
    CHECK(fails_with(IMPORT_JSONL, "t", "{\"a\":\"\xff\"}", "line 1 of the file: malformed JSON"));
    /* 65 levels */
    char deep[200] = "{\"a\":";
    for (int i = 0; i < 64; i++)
        strcat(deep, "[");
    for (int i = 0; i < 64; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    CHECK(fails_with(IMPORT_JSONL, "t", deep, "nested more than 64 levels deep"));
    CHECK(fails_with(IMPORT_JSONL, NULL, "{}", "needs the table to import into"));
    CHECK(fails_with(IMPORT_JSONL, "9lives", "{}", "`9lives` is not a valid table name"));
    CHECK(fails_with(IMPORT_JSONL, "_storage", "{}", "is not a valid table name"));
    CHECK(fails_with(IMPORT_JSONL,
                     "a2345678901234567890123456789012345678901234567890123456789012345", "{}",
                     "is not a valid table name"));
    struct import_set s;
    CHECK_EQ_INT(parse(IMPORT_JSONL, "t", "{}\n{}\n{}", 3, &s), 0);
    import_set_free(&s);
    CHECK(parse(IMPORT_JSONL, "t", "{}\n{}\n{}\n{}", 3, &s) < 0);
    CHECK(strstr(err.data, "more than 3 documents") != NULL);
}

TEST(json_array)
{
    struct import_set s;
    CHECK_EQ_INT(parse(IMPORT_JSON_ARRAY, "t",
                       " [ {\"_id\":\"a\",\"x\":true}, {\"y\":null,\"_creationTime\":5} ] ", 0, &s),
                 0);
    CHECK_EQ_INT(s.tables[0].n, 2);
    CHECK_EQ_STR(s.tables[0].docs[0].id, "a");
    CHECK(is_json(s.tables[0].docs[0].text, "{\"x\":true}"));
    CHECK_EQ_INT(s.tables[0].docs[1].line, 2);
    CHECK(s.tables[0].docs[1].ct == 5);
    import_set_free(&s);
    CHECK(fails_with(IMPORT_JSON_ARRAY, "t", "{\"a\":1}", "the file is not a JSON array"));
    CHECK(fails_with(IMPORT_JSON_ARRAY, "t", "[{}, 3]",
                     "element 2 of the file: a document must be a JSON object, not a number"));
    CHECK(fails_with(IMPORT_JSON_ARRAY, "t", "[{}, {\"_y\":1}]",
                     "element 2 of the file: field `_y`: field names starting with _ are "
                     "reserved"));
    CHECK(fails_with(IMPORT_JSON_ARRAY, "t", "[{},\n{]", "the file is not valid JSON: line 2"));
    CHECK(fails_with(IMPORT_JSON_ARRAY, "t", "\xEF\xBB\xBF[]", "byte order mark"));
}

TEST(csv_entries_and_quoting)
{
    struct import_set s;
    const char *text = "name, n ,_id,note\r\n"
                       "plain,1.5,007,\r\n"
                       "\"quoted, with comma\",-2e3,k2,\"say \"\"hi\"\"\"\n"
                       "\n"
                       "\"two\nlines\",0x10,k3, 5\n"
                       "x,inf,k4,NaN\n"
                       "y,.5,k5,1e400\n"
                       "z,+3.,k6,1.5 ";
    CHECK_EQ_INT(parse(IMPORT_CSV, "t", text, 0, &s), 0);
    struct import_table *t = &s.tables[0];
    CHECK_EQ_INT(t->n, 6);
    CHECK(is_json(t->docs[0].text, "{\"n\":1.5,\"name\":\"plain\",\"note\":\"\"}"));
    CHECK_EQ_STR(t->docs[0].id, "007"); /* a number-looking _id stays a string */
    CHECK_EQ_INT(t->docs[0].line, 2);
    CHECK(is_json(t->docs[1].text,
                  "{\"n\":-2000.0,\"name\":\"quoted, with comma\",\"note\":\"say \\\"hi\\\"\"}"));
    CHECK_EQ_INT(t->docs[1].line, 3);
    CHECK(is_json(t->docs[2].text, "{\"n\":\"0x10\",\"name\":\"two\\nlines\",\"note\":\" 5\"}"));
    CHECK_EQ_INT(t->docs[2].line, 5); /* after the empty line 4 */
    CHECK(is_json(t->docs[3].text, "{\"n\":\"inf\",\"name\":\"x\",\"note\":\"NaN\"}"));
    CHECK_EQ_INT(t->docs[3].line, 7);
    CHECK(is_json(t->docs[4].text, "{\"n\":0.5,\"name\":\"y\",\"note\":\"1e400\"}"));
    CHECK(is_json(t->docs[5].text, "{\"n\":3.0,\"name\":\"z\",\"note\":\"1.5 \"}"));
    import_set_free(&s);
    /* a BOM, _creationTime, no final newline, header only */
    CHECK_EQ_INT(parse(IMPORT_CSV, "t",
                       "\xEF\xBB\xBF"
                       "a,_creationTime\n1,2",
                       0, &s),
                 0);
    CHECK(s.tables[0].docs[0].ct == 2);
    CHECK(is_json(s.tables[0].docs[0].text, "{\"a\":1.0}"));
    import_set_free(&s);
    CHECK_EQ_INT(parse(IMPORT_CSV, "t", "a,b\r\n", 0, &s), 0);
    CHECK_EQ_INT(s.tables[0].n, 0);
    import_set_free(&s);
}

TEST(csv_errors)
{
    CHECK(fails_with(IMPORT_CSV, "t", "", "the file is empty"));
    CHECK(fails_with(IMPORT_CSV, "t", "a,,b\n",
                     "line 1 of the file: column 2 of the header has "
                     "no name"));
    CHECK(fails_with(IMPORT_CSV, "t", "a, a\n",
                     "line 1 of the file: the header names the field "
                     "`a` twice"));
    CHECK(fails_with(IMPORT_CSV, "t", "a,_b\n",
                     "line 1 of the file: field `_b`: field names "
                     "starting with _ are reserved"));
    CHECK(fails_with(IMPORT_CSV, "t", "a,$b\n", "`$b` is not a valid field name"));
    CHECK(fails_with(IMPORT_CSV, "t", "a,b\n1,2\n\"x\ny\",2\n3\n",
                     "line 5 of the file: the row has 1 entry but the header names 2 fields"));
    CHECK(fails_with(IMPORT_CSV, "t", "a,b\n1,2,3\n",
                     "line 2 of the file: the row has 3 entries but the header names 2 fields"));
    CHECK(fails_with(IMPORT_CSV, "t", "a\n1\n\"open\n\n",
                     "line 3 of the file: a quoted entry "
                     "is never closed"));
    CHECK(fails_with(IMPORT_CSV, "t", "a\n\"x\"y\n",
                     "line 2 of the file: a quoted entry must "
                     "end at its closing quote"));
    CHECK(fails_with(IMPORT_CSV, "t", "a,_creationTime\n1,\n",
                     "line 2 of the file: field "
                     "`_creationTime`: must be"));
    CHECK(fails_with(IMPORT_CSV, "t", "a\n\xff\n",
                     "line 2 of the file: field `a`: the entry is "
                     "not valid UTF-8"));
}

/* ---- ZIPs ---- */

struct zentry {
    const char *name, *data;
};

/* A ZIP of the entries (stored when store is set), in memory: caller frees. */
static char *make_zip(const struct zentry *e, size_t n, int store, size_t *len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    zip_source_keep(src);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *fs = zip_source_buffer(za, e[i].data, strlen(e[i].data), 0);
        zip_int64_t idx = zip_file_add(za, e[i].name, fs, ZIP_FL_ENC_UTF_8);
        if (store)
            zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    zip_close(za);
    zip_source_open(src);
    zip_source_seek(src, 0, SEEK_END);
    *len = (size_t)zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    char *out = malloc(*len);
    zip_source_read(src, out, *len);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    return out;
}

static int zip_parse(const struct zentry *e, size_t n, struct import_set *s)
{
    size_t len;
    char *z = make_zip(e, n, 0, &len);
    int rc = import_parse(z, len, IMPORT_ZIP, NULL, 0, s, &err);
    free(z);
    return rc;
}

static int zip_fails_with(const struct zentry *e, size_t n, const char *want)
{
    struct import_set s;
    if (zip_parse(e, n, &s) == 0) {
        fprintf(stderr, "expected a ZIP error containing \"%s\"\n", want);
        import_set_free(&s);
        return 0;
    }
    if (!strstr(err.data, want)) {
        fprintf(stderr, "expected an error containing \"%s\", got \"%s\"\n", want, err.data);
        return 0;
    }
    return 1;
}

#define MSG_SHAPE                                                                                  \
    "\"{\\\"_creationTime\\\": normalfloat64, \\\"_id\\\": id<10001>, \\\"big\\\": int64, "        \
    "\\\"blob\\\": bytes, \\\"inf\\\": -inf | inf, \\\"mixed\\\": int64 | string, "                \
    "\\\"name\\\": string, \\\"tags\\\": array<int64 | null>, \\\"v\\\"?: float64, "               \
    "\\\"rec\\\"?: record<field_name, bytes>}\"\n"

static const struct zentry snapshot[] = {
    {"README.md", "exported by Convex"},
    {"_tables/documents.jsonl", "{\"name\":\"messages\",\"id\":10001}\n"},
    {"messages/generated_schema.jsonl",
     MSG_SHAPE "{\"m2\":{\"mixed\":\"int64\",\"v\":{\"$float64NaN\":\"AAAAAAAA+H8=\"}}}\n"},
    {"messages/documents.jsonl",
     "{\"_creationTime\":1700000000000.5,\"_id\":\"m1\",\"big\":\"42\",\"blob\":\"AQID\","
     "\"inf\":\"-Infinity\",\"mixed\":\"7\",\"name\":\"123\",\"tags\":[\"1\",null,\"-2\"],"
     "\"rec\":{\"k\":\"/w==\"}}\n"
     "{\"_creationTime\":1700000000001,\"_id\":\"m2\",\"big\":\"-9223372036854775808\","
     "\"blob\":\"\",\"inf\":\"Infinity\",\"mixed\":\"8\",\"name\":\"n\",\"tags\":[],"
     "\"v\":\"NaN\"}\n"},
    {"users/generated_schema.jsonl", "\"uniform\"\n"},
    {"users/documents.jsonl",
     "{\"_creationTime\":1.0,\"_id\":\"u1\",\"age\":30,\"score\":1.5,\"neg\":-0.0,"
     "\"b\":{\"$bytes\":\"AQ==\"},\"f\":{\"$float\":\"AAAAAAAA8H8=\"},\"s\":\"30\","
     "\"list\":[1,2.0]}\n"},
    {"plain/documents.jsonl", "{\"_id\":\"p1\",\"x\":{\"$integer\":\"AQAAAAAAAAA=\"}}\n"},
    {"_storage/documents.jsonl",
     "{\"_creationTime\":2.5,\"_id\":\"s1\",\"contentType\":\"text/plain\",\"sha256\":\"LPJ=\","
     "\"size\":5,\"internalId\":\"x\"}\n"
     "{\"_creationTime\":3,\"_id\":\"s2\",\"size\":\"0\",\"contentType\":null}\n"},
    {"_storage/s1.txt", "hello"},
    {"_storage/s2", ""},
    {"_storage/unlisted", "ignored"},
};

TEST(zip_snapshot)
{
    struct import_set s;
    CHECK_EQ_INT(zip_parse(snapshot, sizeof snapshot / sizeof snapshot[0], &s), 0);
    if (s.n != 3) {
        fprintf(stderr, "%s\n", err.data);
        CHECK_EQ_INT(s.n, 3);
        import_set_free(&s);
        return;
    }
    struct import_table *m = &s.tables[0], *u = &s.tables[1], *p = &s.tables[2];
    CHECK_EQ_STR(m->name, "messages");
    CHECK_EQ_STR(m->source, "messages/documents.jsonl");
    CHECK_EQ_INT(m->n, 2);
    CHECK_EQ_STR(m->docs[0].id, "m1");
    CHECK(m->docs[0].ct == 1700000000000.5);
    /* by the shape: int64, bytes, -inf, a string where int64 | string is ambiguous, a
     * string-only field stays a string, array elements, record values */
    CHECK(is_json(m->docs[0].text,
                  "{\"big\":{\"$integer\":\"KgAAAAAAAAA=\"},\"blob\":{\"$bytes\":\"AQID\"},"
                  "\"inf\":{\"$float\":\"AAAAAAAA8P8=\"},\"mixed\":\"7\",\"name\":\"123\","
                  "\"rec\":{\"k\":{\"$bytes\":\"/w==\"}},"
                  "\"tags\":[{\"$integer\":\"AQAAAAAAAAA=\"},null,"
                  "{\"$integer\":\"/v////////8=\"}]}"));
    /* by the override: mixed as int64, v as NaN */
    CHECK(is_json(m->docs[1].text,
                  "{\"big\":{\"$integer\":\"AAAAAAAAAIA=\"},\"blob\":{\"$bytes\":\"\"},"
                  "\"inf\":{\"$float\":\"AAAAAAAA8H8=\"},\"mixed\":{\"$integer\":\"CAAAAAAAAAA=\"},"
                  "\"name\":\"n\",\"tags\":[],\"v\":{\"$float\":\"AAAAAAAA+H8=\"}}"));
    CHECK_EQ_INT(m->docs[1].line, 2);
    CHECK_EQ_STR(u->name, "users");
    CHECK(u->docs[0].ct == 1.0);
    CHECK(is_json(u->docs[0].text,
                  "{\"age\":{\"$integer\":\"HgAAAAAAAAA=\"},\"b\":{\"$bytes\":\"AQ==\"},"
                  "\"f\":{\"$float\":\"AAAAAAAA8H8=\"},"
                  "\"list\":[{\"$integer\":\"AQAAAAAAAAA=\"},2.0],"
                  "\"neg\":{\"$float\":\"AAAAAAAAAIA=\"},\"s\":\"30\",\"score\":1.5}"));
    CHECK_EQ_STR(p->name, "plain");
    CHECK(is_json(p->docs[0].text, "{\"x\":{\"$integer\":\"AQAAAAAAAAA=\"}}"));
    CHECK_EQ_INT(s.n_files, 2);
    if (s.n_files == 2) {
        CHECK_EQ_STR(s.files[0].id, "s1");
        CHECK(s.files[0].ct == 2.5);
        CHECK_EQ_STR(s.files[0].content_type, "text/plain");
        CHECK_EQ_STR(s.files[0].sha256, "LPJ=");
        CHECK_EQ_INT(s.files[0].size, 5);
        CHECK(memcmp(s.files[0].data, "hello", 5) == 0);
        CHECK_EQ_STR(s.files[1].id, "s2");
        CHECK(s.files[1].content_type == NULL && s.files[1].sha256 == NULL);
        CHECK_EQ_INT(s.files[1].size, 0);
    }
    import_set_free(&s);
    /* max_docs counts every table's documents and the stored files: 6 in all */
    size_t len;
    char *z = make_zip(snapshot, sizeof snapshot / sizeof snapshot[0], 0, &len);
    CHECK_EQ_INT(import_parse(z, len, IMPORT_ZIP, NULL, 6, &s, &err), 0);
    import_set_free(&s);
    CHECK(import_parse(z, len, IMPORT_ZIP, NULL, 5, &s, &err) < 0);
    CHECK(strstr(err.data, "more than 5 documents") != NULL);
    CHECK(import_parse(z, len, IMPORT_ZIP, "messages", 0, &s, &err) < 0);
    CHECK_EQ_STR(err.data, "--table is not supported for a ZIP import: the ZIP names its tables");
    free(z);
}

/* Convex's layout of components' tables: the store's "<component path>/<table>" */
TEST(zip_components)
{
    static const struct zentry comp[] = {
        {"_components/ledger/entries/generated_schema.jsonl", "\"uniform\"\n"},
        {"_components/ledger/entries/documents.jsonl", "{\"_id\":\"e1\",\"n\":1.5}\n"},
        {"_components/ledger/_components/counter/shards/documents.jsonl", "{\"v\":2}\n"},
        {"_components/ledger/_tables/documents.jsonl", "{\"name\":\"entries\"}\n"},
        {"_components/ledger/README.md", "ignored"},
        {"notes/documents.jsonl", "{\"t\":\"x\"}\n"},
    };
    struct import_set s;
    CHECK_EQ_INT(zip_parse(comp, sizeof comp / sizeof comp[0], &s), 0);
    CHECK_EQ_INT(s.n, 3);
    if (s.n == 3) {
        CHECK_EQ_STR(s.tables[0].name, "ledger/entries");
        CHECK_EQ_STR(s.tables[0].source, "_components/ledger/entries/documents.jsonl");
        CHECK(is_json(s.tables[0].docs[0].text, "{\"n\":1.5}"));
        CHECK_EQ_STR(s.tables[1].name, "ledger/counter/shards");
        CHECK_EQ_STR(s.tables[2].name, "notes");
    }
    import_set_free(&s);
}

TEST(zip_errors)
{
    struct import_set s;
    CHECK(import_parse("PK nope", 7, IMPORT_ZIP, NULL, 0, &s, &err) < 0);
    CHECK(strstr(err.data, "the file is not a valid ZIP") != NULL);
    struct zentry sys[] = {{"_scheduled_functions/documents.jsonl", ""}};
    CHECK(zip_fails_with(sys, 1,
                         "`_scheduled_functions` is a system table: only _storage can "
                         "be imported"));
    struct zentry comp_files[] = {{"_components/c/_storage/documents.jsonl", ""}};
    CHECK(zip_fails_with(comp_files, 1, "a component's stored files are not supported"));
    struct zentry comp_sys[] = {{"_components/c/_scheduled_functions/documents.jsonl", ""}};
    CHECK(zip_fails_with(comp_sys, 1, "`_scheduled_functions` is a system table"));
    struct zentry comp_name[] = {{"_components/1c/t/documents.jsonl", ""}};
    CHECK(zip_fails_with(comp_name, 1, "not a valid component table"));
    struct zentry comp_short[] = {{"_components/c", ""}};
    CHECK(zip_fails_with(comp_short, 1, "not a component's table"));
    struct zentry nested[] = {{"a/b/documents.jsonl", ""}};
    CHECK(zip_fails_with(nested, 1, "a table nested in folders"));
    struct zentry badname[] = {{"1abc/documents.jsonl", ""}};
    CHECK(zip_fails_with(badname, 1, "`1abc` is not a valid table name"));
    struct zentry line[] = {{"t/documents.jsonl", "{}\n{}\n{\"a\":[}\n"}};
    CHECK(zip_fails_with(line, 1, "t/documents.jsonl line 3: malformed JSON"));
    struct zentry reserved[] = {{"t/documents.jsonl", "{\"_x\":1}\n"}};
    CHECK(zip_fails_with(reserved, 1,
                         "t/documents.jsonl line 1: field `_x`: field names "
                         "starting with _ are reserved"));
    struct zentry missing[] = {
        {"_storage/documents.jsonl", "{\"_id\":\"s1\",\"size\":1}\n{\"_id\":\"s9\"}\n"},
        {"_storage/s1.bin", "x"},
    };
    CHECK(zip_fails_with(missing, 2,
                         "_storage/documents.jsonl line 2: the stored file s9 has no "
                         "entry _storage/s9"));
    struct zentry size[] = {
        {"_storage/documents.jsonl", "{\"_id\":\"s1\",\"size\":4}\n"},
        {"_storage/s1", "xyz"},
    };
    CHECK(zip_fails_with(size, 2,
                         "_storage/documents.jsonl line 1: the stored file s1 is 4 "
                         "bytes but _storage/s1 holds 3"));
    struct zentry set[] = {{"t/generated_schema.jsonl", "\"{\\\"a\\\": set<int64>}\"\n"},
                           {"t/documents.jsonl", "{}\n"}};
    CHECK(zip_fails_with(set, 2,
                         "cannot parse t/generated_schema.jsonl: sets and maps are not "
                         "supported"));
    struct zentry setctx[] = {{"t/generated_schema.jsonl", "\"unknown\"\n{\"d1\":\"map\"}\n"},
                              {"t/documents.jsonl", "{}\n"}};
    CHECK(zip_fails_with(setctx, 2,
                         "t/generated_schema.jsonl line 2: sets and maps are not "
                         "supported"));
    struct zentry shape[] = {{"t/generated_schema.jsonl", "\"{\\\"a\\\": int65}\"\n"},
                             {"t/documents.jsonl", "{}\n"}};
    CHECK(zip_fails_with(shape, 2, "cannot parse t/generated_schema.jsonl: unexpected token"));
    struct zentry notstr[] = {{"t/generated_schema.jsonl", "5\n"}, {"t/documents.jsonl", "{}\n"}};
    CHECK(zip_fails_with(notstr, 2, "first line must be a string"));
    struct zentry ctx[] = {{"t/generated_schema.jsonl", "\"unknown\"\n{\"d1\":\"int32\"}\n"},
                           {"t/documents.jsonl", "{}\n"}};
    CHECK(zip_fails_with(ctx, 2, "t/generated_schema.jsonl line 2: invalid export context"));
    struct zentry two[] = {{"t/generated_schema.jsonl", "\"unknown\"\n{\"a\":1,\"b\":2}\n"},
                           {"t/documents.jsonl", "{}\n"}};
    CHECK(zip_fails_with(two, 2, "an override must be an object with one item"));
    struct zentry i64[] = {{"t/generated_schema.jsonl", "\"{\\\"n\\\": int64}\"\n"},
                           {"t/documents.jsonl", "{\"n\":\"12x\"}\n"}};
    CHECK(zip_fails_with(i64, 2,
                         "t/documents.jsonl line 1: field `n`: unexpected string for an "
                         "int64"));
    struct zentry over[] = {{"t/generated_schema.jsonl", "\"{\\\"n\\\": int64}\"\n"},
                            {"t/documents.jsonl", "{\"n\":\"99999999999999999999\"}\n"}};
    CHECK(zip_fails_with(over, 2, "unexpected string for an int64"));
    struct zentry hint[] = {{"t/generated_schema.jsonl", "\"unknown\"\n{\"d1\":{\"a\":[]}}\n"},
                            {"t/documents.jsonl", "{\"_id\":\"d1\",\"a\":\"x\"}\n"}};
    CHECK(zip_fails_with(hint, 2, "field `a`: unexpected shape hint for string"));
}

/* the stored entries' uncompressed sizes in the local and central headers set to `size` */
static void patch_sizes(char *z, size_t len, uint32_t size)
{
    for (size_t i = 0; i + 46 <= len; i++) {
        unsigned char *p = (unsigned char *)z + i;
        size_t at = 0;
        if (!memcmp(p, "PK\3\4", 4))
            at = 22;
        else if (!memcmp(p, "PK\1\2", 4))
            at = 24;
        if (at)
            for (int k = 0; k < 4; k++)
                p[at + k] = (unsigned char)(size >> (8 * k));
    }
}

TEST(zip_caps)
{
    struct import_set s;
    struct zentry big[] = {{"t/documents.jsonl", "{\"a\":\"0123456789\"}\n"}};
    size_t len;
    char *z = make_zip(big, 1, 0, &len);
    CHECK(import_parse_limits(z, len, IMPORT_ZIP, NULL, 0, 10, 100, &s, &err) < 0);
    CHECK(strstr(err.data, "t/documents.jsonl is larger than 10 bytes uncompressed") != NULL);
    CHECK_EQ_INT(import_parse_limits(z, len, IMPORT_ZIP, NULL, 0, 100, 100, &s, &err), 0);
    import_set_free(&s);
    free(z);
    struct zentry two[] = {{"a/documents.jsonl", "{\"x\":1}\n"},
                           {"b/documents.jsonl", "{\"y\":1}\n"}};
    z = make_zip(two, 2, 0, &len);
    CHECK(import_parse_limits(z, len, IMPORT_ZIP, NULL, 0, 100, 12, &s, &err) < 0);
    CHECK(strstr(err.data, "the ZIP holds more than 12 bytes uncompressed") != NULL);
    free(z);
    /* an entry that says it is 1.25 GiB: refused before anything is decompressed */
    z = make_zip(big, 1, 1, &len);
    patch_sizes(z, len, 0x50000000u);
    CHECK(import_parse(z, len, IMPORT_ZIP, NULL, 0, &s, &err) < 0);
    CHECK(strstr(err.data, "is larger than 1073741824 bytes uncompressed") != NULL);
    /* one that says it is smaller than it is */
    z = (free(z), make_zip(big, 1, 1, &len));
    patch_sizes(z, len, 5);
    CHECK(import_parse(z, len, IMPORT_ZIP, NULL, 0, &s, &err) < 0);
    free(z);
}

TEST(zip_shape_grammar)
{
    /* literals, ids, unions, optional fields, records: an ambiguous place keeps strings */
    struct zentry e[] = {
        {"t/generated_schema.jsonl",
         "\"{\\\"_id\\\": id<1>, \\\"k\\\": \\\"lit\\\" | int64, \\\"r\\\": record<string, "
         "int64> | {\\\"x\\\"?: bytes}, \\\"u\\\": unknown, \\\"z\\\": never | null | boolean | "
         "NaN | -0} | array<field_name>\"\n"},
        {"t/documents.jsonl",
         "{\"_id\":\"a\",\"k\":\"5\",\"r\":{\"x\":\"AA==\",\"y\":\"3\"},\"u\":\"3\",\"z\":true}"
         "\n"},
    };
    struct import_set s;
    CHECK_EQ_INT(zip_parse(e, 2, &s), 0);
    if (s.n == 1 && s.tables[0].n == 1)
        CHECK(is_json(s.tables[0].docs[0].text,
                      "{\"k\":\"5\",\"r\":{\"x\":\"AA==\",\"y\":{\"$integer\":"
                      "\"AwAAAAAAAAA=\"}},\"u\":\"3\",\"z\":true}"));
    else
        fprintf(stderr, "%s\n", err.data);
    import_set_free(&s);
}

TEST_MAIN()
