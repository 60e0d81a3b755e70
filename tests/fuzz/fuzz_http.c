/* fuzz_http: http_parse_request and the chunked decoder on arbitrary bytes. The input is copied
 * to an exact-size heap block so ASan catches any over-read. Checks: a parsed head's every
 * prefix is HTTP_PARTIAL (no parse depends on bytes it has not seen), slices stay inside the
 * input, and decoding chunked input in one call or byte by byte gives the same result. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

static void check_slice(struct slice s, const char *p, size_t n)
{
    assert(s.len == 0 || (s.p >= p && s.p + s.len <= p + n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    struct http_request req;
    ssize_t r = http_parse_request(p, size, &req);
    assert(r == HTTP_PARTIAL || r == HTTP_ERROR || r == HTTP_TOO_MANY_HEADERS || (r > 0 && (size_t)r <= size));
    if (r > 0) {
        check_slice(req.method, p, size);
        check_slice(req.target, p, size);
        check_slice(req.path, p, size);
        check_slice(req.query, p, size);
        assert(req.n_headers <= HTTP_MAX_HEADERS);
        for (size_t i = 0; i < req.n_headers; i++) {
            check_slice(req.headers[i].name, p, size);
            check_slice(req.headers[i].value, p, size);
        }
        assert(!(req.chunked && req.content_length >= 0));
        /* the routing path: never longer than the path (but "" -> itself), no dot segment left,
         * and resolving it again changes nothing */
        char *rp = malloc(req.path.len + 1), *rp2 = malloc(req.path.len + 1);
        size_t rn = http_path_resolved(req.path, rp);
        assert(rn <= req.path.len);
        if (req.path.len && req.path.p[0] == '/') {
            assert(rn >= 1 && rp[0] == '/');
            assert(http_path_resolved(slice_of(rp, rn), rp2) == rn && !memcmp(rp, rp2, rn));
        }
        free(rp);
        free(rp2);
        size_t cuts[3] = { (size_t)r - 1, (size_t)r / 2, 0 };
        for (int k = 0; k < 3; k++) {
            struct http_request q;
            ssize_t r2 = http_parse_request(p, cuts[k], &q);
            assert(r2 == HTTP_PARTIAL);
        }
    }

    /* chunked: whole vs byte by byte */
    char *a = malloc(size ? size : 1), *b = malloc(size ? size : 1);
    memcpy(a, data, size);
    memcpy(b, data, size);
    struct http_chunked da, db;
    http_chunked_init(&da);
    http_chunked_init(&db);
    size_t la = 0, lb = 0;
    ssize_t ra = http_chunked_decode(&da, a, size, &la);
    ssize_t rb = HTTP_PARTIAL;
    for (size_t i = 0; i <= size; i++) {
        rb = http_chunked_decode(&db, b, i, &lb);
        if (rb != HTTP_PARTIAL)
            break;
    }
    assert(ra == rb);
    assert(la == lb);
    assert(la <= size);
    if (ra >= 0)
        assert(memcmp(a, b, la) == 0);
    free(a);
    free(b);
    free(p);
    return 0;
}
