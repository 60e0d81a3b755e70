/* http: HTTP/1.1 request-head parser and chunked decoder (RFC 9112). Never allocates and never
 * reads past p[n-1]: every byte access is preceded by a bounds check, and running out of input
 * anywhere yields HTTP_PARTIAL. Line endings must be CRLF: a bare LF is rejected everywhere
 * (request line, headers, chunk lines) so that no two parsers can disagree on where a line ends. */
#include "net/http.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/banned.h"

/* tchar (RFC 9110 §5.6.2) */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* Expects "\r\n" at p[*i]. 0 ok, HTTP_PARTIAL, HTTP_ERROR. */
static int expect_crlf(const char *p, size_t n, size_t *i)
{
    if (*i >= n)
        return HTTP_PARTIAL;
    if (p[*i] != '\r')
        return HTTP_ERROR;
    if (*i + 1 >= n)
        return HTTP_PARTIAL;
    if (p[*i + 1] != '\n')
        return HTTP_ERROR;
    *i += 2;
    return 0;
}

/* Does the comma-separated token list `v` contain `tok` (case-insensitive)? */
static int list_has_token(struct slice v, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < v.len) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        size_t s = i;
        while (i < v.len && v.p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v.p + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

int http_header_has_token(const struct slice *v, const char *tok)
{
    return v && list_has_token(*v, tok);
}

/* Content-Length: 1*DIGIT, at most 15 digits (far above any body limit). -1 if invalid. */
static long long parse_content_length(struct slice v)
{
    if (v.len == 0 || v.len > 15)
        return -1;
    long long x = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        x = x * 10 + (v.p[i] - '0');
    }
    return x;
}

static int finish_semantics(struct http_request *req)
{
    int has_conn_close = 0, has_conn_keep = 0, has_te = 0;
    req->content_length = -1;
    req->chunked = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        struct http_header *h = &req->headers[i];
        if (slice_case_eq_str(h->name, "content-length")) {
            long long cl = parse_content_length(h->value);
            if (cl < 0)
                return HTTP_ERROR;
            if (req->content_length >= 0 && req->content_length != cl)
                return HTTP_ERROR;
            req->content_length = cl;
        } else if (slice_case_eq_str(h->name, "transfer-encoding")) {
            /* Only "chunked" alone is supported; anything else (gzip, chunked twice, an empty
             * value, a second header) is refused rather than guessed at. */
            if (has_te || !slice_case_eq_str(h->value, "chunked"))
                return HTTP_ERROR;
            has_te = 1;
        } else if (slice_case_eq_str(h->name, "connection")) {
            if (list_has_token(h->value, "close"))
                has_conn_close = 1;
            if (list_has_token(h->value, "keep-alive"))
                has_conn_keep = 1;
        }
    }
    if (has_te) {
        if (req->minor_version == 0 || req->content_length >= 0)
            return HTTP_ERROR; /* RFC 9112 §6.1: CL + TE is a smuggling vector; refuse */
        req->chunked = 1;
    }
    if (has_conn_close)
        req->keep_alive = 0;
    else if (req->minor_version >= 1)
        req->keep_alive = 1;
    else
        req->keep_alive = has_conn_keep;
    return 0;
}

ssize_t http_parse_request(const char *p, size_t n, struct http_request *req)
{
    size_t i = 0;
    int r;
    req->n_headers = 0;
    req->body = slice_of(p, 0);
    req->keep_alive = 0;
    req->content_length = -1;
    req->chunked = 0;

    /* RFC 9112 §2.2: ignore at least one empty line before the request line. */
    while (i < n && p[i] == '\r') {
        if (i + 1 >= n)
            return HTTP_PARTIAL;
        if (p[i + 1] != '\n')
            return HTTP_ERROR;
        i += 2;
        if (i > 8)
            return HTTP_ERROR;
    }
    /* method */
    size_t s = i;
    while (i < n && tchar[(unsigned char)p[i]])
        i++;
    if (i >= n)
        return HTTP_PARTIAL;
    if (i == s || p[i] != ' ')
        return HTTP_ERROR;
    req->method = slice_of(p + s, i - s);
    i++;
    /* request-target: visible ASCII or obs-text; no controls, no spaces */
    s = i;
    size_t q = (size_t)-1;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (c == ' ')
            break;
        if (c < 0x21 || c == 0x7f)
            return HTTP_ERROR;
        if (c == '?' && q == (size_t)-1)
            q = i;
        i++;
    }
    if (i >= n)
        return HTTP_PARTIAL;
    if (i == s)
        return HTTP_ERROR;
    req->target = slice_of(p + s, i - s);
    if (q == (size_t)-1) {
        req->path = req->target;
        req->query = slice_of(p + i, 0);
    } else {
        req->path = slice_of(p + s, q - s);
        req->query = slice_of(p + q + 1, i - q - 1);
    }
    /* absolute-form (RFC 9112 3.2.2: a server must accept it): the path of http://host/path */
    for (size_t k = 0; k < 2; k++) {
        static const char *const schemes[] = { "http://", "https://" };
        size_t sl = strlen(schemes[k]);
        if (req->path.len >= sl && !strncasecmp(req->path.p, schemes[k], sl)) {
            /* the origin-form it stands for: the slices stay inside the request's bytes (the
             * server moves them with its buffer), so a target without a path is left as it is */
            const char *slash = memchr(req->path.p + sl, '/', req->path.len - sl);
            const char *end = req->target.p + req->target.len;
            if (slash) {
                req->path = slice_of(slash, (size_t)(req->path.p + req->path.len - slash));
                req->target = slice_of(slash, (size_t)(end - slash));
            }
            break;
        }
    }
    i++;
    /* "HTTP/1.x" */
    static const char ver[] = "HTTP/1.";
    for (size_t k = 0; k < 7; k++, i++) {
        if (i >= n)
            return HTTP_PARTIAL;
        if (p[i] != ver[k])
            return HTTP_ERROR;
    }
    if (i >= n)
        return HTTP_PARTIAL;
    if (p[i] != '0' && p[i] != '1')
        return HTTP_ERROR;
    req->minor_version = p[i] - '0';
    i++;
    if ((r = expect_crlf(p, n, &i)) != 0)
        return r;

    /* header fields */
    for (;;) {
        if (i >= n)
            return HTTP_PARTIAL;
        if (p[i] == '\r') {
            if ((r = expect_crlf(p, n, &i)) != 0)
                return r;
            break;
        }
        /* field-name: a token; obs-fold (a line starting with SP/HTAB) is rejected here */
        s = i;
        while (i < n && tchar[(unsigned char)p[i]])
            i++;
        if (i >= n)
            return HTTP_PARTIAL;
        if (i == s || p[i] != ':')
            return HTTP_ERROR;
        if (req->n_headers == HTTP_MAX_HEADERS)
            return HTTP_TOO_MANY_HEADERS;
        struct http_header *h = &req->headers[req->n_headers];
        h->name = slice_of(p + s, i - s);
        i++;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        s = i;
        while (i < n) {
            unsigned char c = (unsigned char)p[i];
            if (c == '\r')
                break;
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return HTTP_ERROR;
            i++;
        }
        if (i >= n)
            return HTTP_PARTIAL;
        size_t e = i;
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        h->value = slice_of(p + s, e - s);
        if ((r = expect_crlf(p, n, &i)) != 0)
            return r;
        req->n_headers++;
    }
    if (finish_semantics(req) < 0)
        return HTTP_ERROR;
    req->body = slice_of(p + i, 0);
    return (ssize_t)i;
}

static int dot_segment(const char *p, size_t n)
{
    return (n == 1 && p[0] == '.') ||
           (n == 3 && p[0] == '%' && p[1] == '2' && (p[2] | 0x20) == 'e');
}

static int dot_dot_segment(const char *p, size_t n)
{
    for (size_t cut = 1; cut < n; cut++) /* "." or "%2e", twice */
        if (dot_segment(p, cut) && dot_segment(p + cut, n - cut))
            return 1;
    return 0;
}

size_t http_path_resolved(struct slice path, char *out)
{
    const char *p = path.p;
    size_t n = path.len, o = 0;
    if (n == 0 || p[0] != '/') {
        if (n)
            memcpy(out, p, n);
        return n;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && p[j] != '/')
            j++;
        const char *seg = p + i + 1;
        size_t sl = j - i - 1;
        int last = j >= n;
        if (dot_segment(seg, sl)) {
            if (last)
                out[o++] = '/';
        } else if (dot_dot_segment(seg, sl)) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the removed segment's slash */
            if (last)
                out[o++] = '/';
        } else {
            out[o++] = '/';
            memcpy(out + o, seg, sl);
            o += sl;
        }
        i = j;
    }
    if (o == 0)
        out[o++] = '/';
    return o;
}

const struct slice *http_header_get(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (slice_case_eq_str(req->headers[i].name, name))
            return &req->headers[i].value;
    }
    return NULL;
}

size_t http_header_count(const struct http_request *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        n += slice_case_eq_str(req->headers[i].name, name);
    return n;
}

/* ---- chunked transfer coding (RFC 9112 §7.1) ---- */

enum {
    CH_SIZE_START, /* expecting the first hex digit of a chunk size */
    CH_SIZE,       /* more hex digits, or ';', or CR */
    CH_EXT,        /* chunk extension up to CR */
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START, /* start of a trailer line or the final CRLF */
    CH_TRAILER_NAME,  /* a trailer field name up to ':' */
    CH_TRAILER,       /* a trailer field value, up to CR */
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
};

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void http_chunked_init(struct http_chunked *d)
{
    memset(d, 0, sizeof *d);
}

ssize_t http_chunked_decode(struct http_chunked *d, char *p, size_t n, size_t *decoded)
{
    size_t i = d->in_pos, o = d->out_pos;
    ssize_t ret = HTTP_PARTIAL;
    if (d->state == CH_DONE) {
        ret = (ssize_t)i;
        goto out;
    }
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        switch (d->state) {
        case CH_SIZE_START:
        case CH_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (d->chunk_left > (SIZE_MAX >> 8))
                    goto error; /* absurd size */
                d->chunk_left = d->chunk_left * 16 + (size_t)v;
                d->state = CH_SIZE;
                i++;
            } else if (d->state == CH_SIZE_START) {
                goto error;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
                i++;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
                i++;
            } else {
                goto error;
            }
            break;
        }
        case CH_EXT:
            if (c == '\r')
                d->state = CH_SIZE_LF;
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                goto error;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                goto error;
            i++;
            d->state = d->chunk_left ? CH_DATA : CH_TRAILER_START;
            break;
        case CH_DATA: {
            size_t k = n - i < d->chunk_left ? n - i : d->chunk_left;
            if (o != i)
                memmove(p + o, p + i, k);
            o += k;
            i += k;
            d->chunk_left -= k;
            if (!d->chunk_left)
                d->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (c != '\r')
                goto error;
            i++;
            d->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                goto error;
            i++;
            d->state = CH_SIZE_START;
            break;
        case CH_TRAILER_START:
            if (c == '\r') {
                d->state = CH_END_LF;
            } else if (tchar[c]) {
                d->state = CH_TRAILER_NAME;
            } else {
                goto error;
            }
            i++;
            break;
        case CH_TRAILER_NAME:
            if (c == ':')
                d->state = CH_TRAILER;
            else if (!tchar[c])
                goto error;
            i++;
            break;
        case CH_TRAILER:
            if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                goto error;
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                goto error;
            i++;
            d->state = CH_TRAILER_START;
            break;
        case CH_END_LF:
            if (c != '\n')
                goto error;
            i++;
            d->state = CH_DONE;
            ret = (ssize_t)i;
            goto out;
        default:
            goto error;
        }
    }
    goto out;
error:
    ret = HTTP_ERROR;
out:
    d->in_pos = i;
    d->out_pos = o;
    if (decoded)
        *decoded = o;
    return ret;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: break;
    }
    if (status >= 100 && status < 200)
        return "Informational";
    if (status >= 200 && status < 300)
        return "Success";
    if (status >= 300 && status < 400)
        return "Redirection";
    if (status >= 400 && status < 500)
        return "Client Error";
    return "Server Error";
}

int http_query_param(struct slice q, const char *name, struct slice *v)
{
    size_t nl = strlen(name);
    const char *p = q.p, *end = q.p + q.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) >= nl && !memcmp(p, name, nl) && (p + nl == e || p[nl] == '=')) {
            *v = p + nl == e ? slice_of(e, 0) : slice_of(p + nl + 1, (size_t)(e - p) - nl - 1);
            return 1;
        }
        p = e + 1;
    }
    return 0;
}
