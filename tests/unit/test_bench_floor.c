/* test_bench_floor: the floor program (bench/ref/floor_srv.c and floor_push.c, included). Its
 * WebSocket frames are RFC 6455's (server frames unmasked, client frames must be masked, the RFC's
 * accept key example); it refuses to listen anywhere but loopback; against real sockets it
 * upgrades, subscribes and broadcasts one mutation's frame to the subscribers of its channel with
 * each send strategy (and commits a WAL-frame-sized record per mutation with --sync-dir),
 * survives subscribers that vanish and clients that send garbage, and closes every connection it
 * accepted (the process's open fds are counted before and after). */
#include <sys/stat.h>

#include "test.h"
#include "unit/fds.h"

#include "../../bench/hist.c"
#include "../../bench/ref/floor_push.c"
#include "../../bench/ref/floor_srv.c"
#include "../../bench/ref/floor_wal.c"

TEST(floor_frame_encoding)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    floor_ws_frame(&b, 1, "hello", 5);
    CHECK_EQ_INT(b.len, 7);
    CHECK_EQ_INT((unsigned char)b.data[0], 0x81);
    CHECK_EQ_INT((unsigned char)b.data[1], 5); /* no mask bit: a server frame */
    CHECK(!memcmp(b.data + 2, "hello", 5));
    char *big = vr_malloc(70000);
    memset(big, 'x', 70000);
    buf_reset(&b);
    floor_ws_frame(&b, 1, big, 200);
    CHECK_EQ_INT(b.len, 204);
    CHECK_EQ_INT((unsigned char)b.data[1], 126);
    CHECK_EQ_INT(((unsigned char)b.data[2] << 8) | (unsigned char)b.data[3], 200);
    buf_reset(&b);
    floor_ws_frame(&b, 2, big, 70000);
    CHECK_EQ_INT(b.len, 70010);
    CHECK_EQ_INT((unsigned char)b.data[0], 0x82);
    CHECK_EQ_INT((unsigned char)b.data[1], 127);
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len = (len << 8) | (unsigned char)b.data[2 + i];
    CHECK_EQ_INT(len, 70000);
    vr_free(big);
    buf_release(&b);
}

/* a masked client frame of (p, n) */
static size_t client_frame(char *out, int op, const char *p, size_t n)
{
    static const unsigned char m[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    out[h++] = (char)(0x80 | op);
    if (n < 126) {
        out[h++] = (char)(0x80 | n);
    } else {
        out[h++] = (char)(0x80 | 126);
        out[h++] = (char)(n >> 8);
        out[h++] = (char)n;
    }
    memcpy(out + h, m, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = (char)(p[i] ^ m[i & 3]);
    return h + n;
}

TEST(floor_parse_client_frames)
{
    char f[512];
    const char *msg = "{\"type\":\"connect\"}";
    size_t n = client_frame(f, 1, msg, strlen(msg));
    int op = 0;
    char *pl = NULL;
    size_t plen = 0;
    for (size_t k = 0; k < n; k++) /* every prefix is incomplete, not an error */
        CHECK_EQ_INT(floor_ws_parse(f, k, &op, &pl, &plen), 0);
    CHECK_EQ_INT(floor_ws_parse(f, n, &op, &pl, &plen), (long)n);
    CHECK_EQ_INT(op, 1);
    CHECK_EQ_INT(plen, strlen(msg));
    CHECK(pl && !memcmp(pl, msg, plen));
    /* 126..65535: the 16-bit length */
    char text[300];
    memset(text, 'a', sizeof text);
    n = client_frame(f, 1, text, 300);
    CHECK_EQ_INT(floor_ws_parse(f, n, &op, &pl, &plen), (long)n);
    CHECK_EQ_INT(plen, 300);
    /* unmasked (a server frame from a client): invalid, RFC 6455 §5.1 */
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    floor_ws_frame(&b, 1, "hi", 2);
    CHECK_EQ_INT(floor_ws_parse(b.data, b.len, &op, &pl, &plen), -1);
    buf_release(&b);
    /* fragmented and reserved bits: invalid here */
    n = client_frame(f, 1, "hi", 2);
    f[0] = 0x01;
    CHECK_EQ_INT(floor_ws_parse(f, n, &op, &pl, &plen), -1);
    n = client_frame(f, 1, "hi", 2);
    f[0] = (char)0xc1;
    CHECK_EQ_INT(floor_ws_parse(f, n, &op, &pl, &plen), -1);
    /* a declared length past FLOOR_MAX_IN: refused before it is read */
    unsigned char huge[14] = {0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4};
    CHECK_EQ_INT(floor_ws_parse((char *)huge, sizeof huge, &op, &pl, &plen), -1);
}

TEST(floor_accept_key_rfc_example)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ=="; /* RFC 6455 §1.3 */
    CHECK_EQ_INT(floor_accept_key(key, strlen(key), out), 0);
    CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(floor_json_object_extent)
{
    const char *m = "{\"type\":\"mutation\",\"requestId\":3,\"path\":\"bench:send\",\"args\":"
                    "{\"channel\":\"a}b{\\\"\",\"seq\":42,\"n\":{\"x\":1}},\"tail\":1}";
    const char *v = NULL;
    size_t vl = 0;
    CHECK_EQ_INT(floor_json_object(m, strlen(m), "args", &v, &vl), 0);
    CHECK(v && vl == strlen("{\"channel\":\"a}b{\\\"\",\"seq\":42,\"n\":{\"x\":1}}"));
    CHECK(v && !memcmp(v, "{\"channel\"", 10) && v[vl - 1] == '}');
    CHECK_EQ_INT(floor_json_object(m, strlen(m), "nothere", &v, &vl), -1);
    CHECK_EQ_INT(floor_json_object(m, strlen(m), "requestId", &v, &vl), -1); /* not an object */
    const char *cut = "{\"args\":{\"a\":{\"b\":1}";
    CHECK_EQ_INT(floor_json_object(cut, strlen(cut), "args", &v, &vl), -1);
}

TEST(floor_listens_on_loopback_only)
{
    static const char *const bad[] = {
        "10.0.0.1", "0.0.0.0", "192.168.1.1", "::", "::2", "2001:db8::1", "example.com", ""};
    static const char *const good[] = {"127.0.0.1", "127.3.2.1", "::1", "localhost"};
    struct sockaddr_storage ss;
    socklen_t sl;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int r = floor_listen_addr(bad[i], 0, &ss, &sl);
        CHECK_EQ_INT(r, -EPERM);
        if (r != -EPERM)
            fprintf(stderr, "accepted %s\n", bad[i]);
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_EQ_INT(floor_listen_addr(good[i], 0, &ss, &sl), 0);
    CHECK_EQ_INT(floor_listen_addr("127.0.0.1", 70000, &ss, &sl), -EINVAL);
    static volatile sig_atomic_t stop;
    static struct floor_srv s;
    int fds = count_fds();
    CHECK_EQ_INT(floor_srv_init(&s, "0.0.0.0", 0, FLOOR_SEND, 1, &stop), -EPERM);
    CHECK(strstr(s.err, "refusing to listen on \"0.0.0.0\"") != NULL);
    floor_srv_release(&s);
    CHECK_EQ_INT(count_fds(), fds);
}

/* ---- against real sockets ---- */

struct client {
    int fd;
    struct buf in;
};

static int cl_open(struct client *c, int port, const char *path)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    buf_init(&c->in, 1 << 20);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path);
    return write_full(c->fd, req, (size_t)n);
}

/* Reads until the response head is complete; the status, -1 on EOF or timeout. */
static int cl_head(struct client *c)
{
    char tmp[4096];
    char *e;
    while (!(e = memmem(c->in.data, c->in.len, "\r\n\r\n", 4))) {
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r <= 0)
            return -1;
        buf_append(&c->in, tmp, (size_t)r);
    }
    int st = (int)strtol(c->in.data + 9, NULL, 10);
    if (st == 101 && !strstr(c->in.data, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        st = -2;
    buf_consume(&c->in, (size_t)(e - c->in.data) + 4);
    return st;
}

static int cl_send(struct client *c, const char *json)
{
    char f[1024];
    size_t n = client_frame(f, 1, json, strlen(json));
    return write_full(c->fd, f, n);
}

/* The next message's text into out (NUL-terminated); its length, or -1 on EOF or timeout. */
static long cl_msg(struct client *c, char *out, size_t cap)
{
    char tmp[4096];
    for (;;) {
        if (c->in.len >= 2) {
            size_t h = 2, len = (unsigned char)c->in.data[1] & 0x7f;
            if (len == 126 && c->in.len >= 4) {
                len = ((size_t)(unsigned char)c->in.data[2] << 8) | (unsigned char)c->in.data[3];
                h = 4;
            }
            if ((len < 126 || h == 4) && c->in.len >= h + len) {
                size_t k = len < cap - 1 ? len : cap - 1;
                memcpy(out, c->in.data + h, k);
                out[k] = 0;
                buf_consume(&c->in, h + len);
                return (long)k;
            }
        }
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r <= 0)
            return -1;
        buf_append(&c->in, tmp, (size_t)r);
    }
}

static void cl_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_release(&c->in);
}

static void *srv_thread(void *arg)
{
    floor_srv_run(arg);
    return NULL;
}

#define NSUBS 150 /* above 2 * 64, so --mode threads splits the broadcast */
#define NSOLO 10  /* the last NSOLO subscribe to channel "solo", the others to "all" */

static void broadcast_with(enum floor_mode mode)
{
    static volatile sig_atomic_t stop;
    static struct floor_srv s;
    static struct client subs[NSUBS];
    struct client w, bad, vanish, http;
    char m[4096];
    int fds = count_fds();
    stop = 0;
    int r = floor_srv_init(&s, "127.0.0.1", 0, mode, 2, &stop);
    CHECK_EQ_INT(r, 0);
    if (r < 0) {
        fprintf(stderr, "floor_srv_init: %s\n", s.err);
        floor_srv_release(&s);
        return;
    }
    /* --sync-dir (with plain send): one WAL-frame-sized append + fdatasync per mutation */
    char dir[] = "/tmp/test-floor-sync-XXXXXX";
    int syncing = mode == FLOOR_SEND && mkdtemp(dir) != NULL;
    if (syncing)
        CHECK_EQ_INT(floor_srv_sync_dir(&s, dir), 0);
    pthread_t th;
    pthread_create(&th, NULL, srv_thread, &s);
    for (int i = 0; i < NSUBS; i++) {
        CHECK_EQ_INT(cl_open(&subs[i], s.port, "/api/sync"), 0);
        CHECK_EQ_INT(cl_head(&subs[i]), 101);
        cl_send(&subs[i], "{\"type\":\"connect\",\"sessionId\":\"s\"}");
        cl_send(&subs[i],
                i < NSUBS - NSOLO
                    ? "{\"type\":\"modifyQuerySet\",\"add\":[{\"queryId\":1,\"path\":"
                      "\"bench:latest\",\"args\":{\"channel\":\"all\"}}],\"remove\":[]}"
                    : "{\"type\":\"modifyQuerySet\",\"add\":[{\"queryId\":1,\"path\":"
                      "\"bench:latest\",\"args\":{\"channel\":\"solo\"}}],\"remove\":[]}");
        CHECK(cl_msg(&subs[i], m, sizeof m) > 0 && strstr(m, "\"type\":\"connected\""));
        CHECK(cl_msg(&subs[i], m, sizeof m) > 0 && strstr(m, "\"type\":\"transition\""));
    }
    /* a subscriber that vanishes: the broadcast fails on it and the server closes it */
    CHECK_EQ_INT(cl_open(&vanish, s.port, "/api/sync"), 0);
    CHECK_EQ_INT(cl_head(&vanish), 101);
    cl_send(&vanish, "{\"type\":\"modifyQuerySet\",\"add\":[],\"remove\":[]}");
    CHECK(cl_msg(&vanish, m, sizeof m) > 0);
    struct linger lg0 = {1, 0}; /* close with RST */
    setsockopt(vanish.fd, SOL_SOCKET, SO_LINGER, &lg0, sizeof lg0);
    cl_close(&vanish);
    /* a client sending an unmasked frame is closed; nobody else is affected */
    CHECK_EQ_INT(cl_open(&bad, s.port, "/api/sync"), 0);
    CHECK_EQ_INT(cl_head(&bad), 101);
    CHECK_EQ_INT(write_full(bad.fd, "\x81\x02hi", 4), 0);
    CHECK_EQ_INT(cl_msg(&bad, m, sizeof m), -1);
    cl_close(&bad);
    /* http-query: pipelined POST /api/query, each answered on the kept-alive connection */
    {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)s.port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        buf_init(&http.in, 1 << 20);
        http.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {5, 0};
        setsockopt(http.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        CHECK_EQ_INT(connect(http.fd, (struct sockaddr *)&sa, sizeof sa), 0);
        static const char q[] = "POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                "application/json\r\nContent-Length: 14\r\n\r\n{\"path\":\"a:b\"}";
        char two[2 * sizeof q];
        memcpy(two, q, sizeof q - 1);
        memcpy(two + sizeof q - 1, q, sizeof q - 1);
        CHECK_EQ_INT(write_full(http.fd, two, 2 * (sizeof q - 1)), 0);
        for (int k = 0; k < 2; k++) {
            CHECK_EQ_INT(cl_head(&http), 200);
            while (!strstr(http.in.data, "\"logLines\":[]}")) {
                ssize_t got = read(http.fd, m, sizeof m);
                if (got <= 0)
                    break;
                buf_append(&http.in, m, (size_t)got);
            }
            char *e = strstr(http.in.data, "\"logLines\":[]}");
            CHECK(e && strstr(http.in.data, "\"status\":\"success\""));
            if (e)
                buf_consume(&http.in, (size_t)(e - http.in.data) + 14);
        }
        cl_close(&http);
    }
    /* anything but the sync path or metrics: 404 */
    CHECK_EQ_INT(cl_open(&http, s.port, "/elsewhere"), 0);
    CHECK_EQ_INT(cl_head(&http), 404);
    cl_close(&http);
    /* the writer: two mutations to "all", each reaching every subscriber of "all" with its args,
     * then one to "solo", the first (and only) thing its subscribers get */
    CHECK_EQ_INT(cl_open(&w, s.port, "/api/sync"), 0);
    CHECK_EQ_INT(cl_head(&w), 101);
    for (int k = 1; k <= 3; k++) {
        char mut[256];
        snprintf(mut, sizeof mut,
                 "{\"type\":\"mutation\",\"requestId\":%d,\"path\":\"bench:send\",\"args\":"
                 "{\"channel\":\"%s\",\"seq\":%d,\"body\":\"x\"}}",
                 k, k < 3 ? "all" : "solo", 4000 + k);
        cl_send(&w, mut);
        CHECK(cl_msg(&w, m, sizeof m) > 0 && strstr(m, "\"type\":\"mutationResponse\"") &&
              strstr(m, "\"success\":true"));
        char want[32];
        snprintf(want, sizeof want, "\"seq\":%d", 4000 + k);
        int got = 0, lo = k < 3 ? 0 : NSUBS - NSOLO, hi = k < 3 ? NSUBS - NSOLO : NSUBS;
        for (int i = lo; i < hi; i++)
            got += cl_msg(&subs[i], m, sizeof m) > 0 && strstr(m, want) &&
                   strstr(m, "\"type\":\"transition\"");
        CHECK_EQ_INT(got, hi - lo);
    }
    /* actor-rpc: /api/actors, `counter.increment` answered with the new count, one call at a
     * time (a commit each) */
    struct client ac;
    CHECK_EQ_INT(cl_open(&ac, s.port, "/api/actors"), 0);
    CHECK_EQ_INT(cl_head(&ac), 101);
    cl_send(&ac, "{\"type\":\"rpc\",\"id\":7,\"actor\":\"counter\",\"actorId\":\"a\","
                 "\"method\":\"increment\"}");
    CHECK(cl_msg(&ac, m, sizeof m) > 0 &&
          !strcmp(m, "{\"type\":\"rpc:result\",\"id\":7,\"result\":1}"));
    cl_send(&ac, "{\"type\":\"rpc\",\"id\":8,\"actor\":\"counter\",\"actorId\":\"a\","
                 "\"method\":\"increment\"}");
    CHECK(cl_msg(&ac, m, sizeof m) > 0 &&
          !strcmp(m, "{\"type\":\"rpc:result\",\"id\":8,\"result\":2}"));
    cl_close(&ac);
    struct stat st;
    if (syncing)
        CHECK(stat(s.wal.path, &st) == 0 && st.st_size == FLOOR_WAL_SIZE);
    /* one per mutation or rpc: each waits for its answer */
    CHECK_EQ_INT(s.wal.commits, syncing ? 5 : 0);
    CHECK_EQ_INT(s.wal.off, syncing ? 5 * SYNC_APPEND : 0);
    /* metrics: the broadcasts so far */
    CHECK_EQ_INT(cl_open(&http, s.port, "/api/metrics"), 0);
    CHECK_EQ_INT(cl_head(&http), 200);
    for (ssize_t k; (k = read(http.fd, m, sizeof m)) > 0;) /* until the server closes it */
        buf_append(&http.in, m, (size_t)k);
    CHECK(strstr(http.in.data, "\"transitions\":3") != NULL);
    cl_close(&http);
    /* half the subscribers leave now, the rest stay open until the server stops */
    for (int i = 0; i < NSUBS / 2; i++)
        cl_close(&subs[i]);
    stop = 1;
    pthread_join(th, NULL);
    size_t accepted = s.accepted;
    CHECK_EQ_INT(accepted, NSUBS + 7);
    CHECK_EQ_INT(s.http_answers, 2);
    CHECK_EQ_INT(s.broadcasts, 3);
    CHECK_EQ_INT(s.sends, 2 * (NSUBS - NSOLO) + NSOLO);
    floor_srv_release(&s);
    CHECK_EQ_INT(s.closed, accepted);
    if (syncing) { /* the file is removed with the server */
        CHECK(stat(s.wal.path, &st) < 0 && errno == ENOENT);
        CHECK_EQ_INT(rmdir(dir), 0);
    }
    cl_close(&w);
    for (int i = NSUBS / 2; i < NSUBS; i++)
        cl_close(&subs[i]);
    CHECK_EQ_INT(count_fds(), fds);
}

TEST(floor_broadcast_send)
{
    broadcast_with(FLOOR_SEND);
}

TEST(floor_broadcast_threads)
{
    broadcast_with(FLOOR_THREADS);
}

TEST(floor_broadcast_uring)
{
#ifdef HAVE_LIBURING
    broadcast_with(FLOOR_URING);
#else
    static volatile sig_atomic_t stop;
    static struct floor_srv s;
    CHECK_EQ_INT(floor_srv_init(&s, "127.0.0.1", 0, FLOOR_URING, 1, &stop), -ENOSYS);
    floor_srv_release(&s);
#endif
}

TEST(floor_push_measures_and_cleans_up)
{
    char dir[] = "/tmp/test-floor-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char out[256];
    snprintf(out, sizeof out, "%s/push.json", dir);
    int fds = count_fds();
    CHECK_EQ_INT(floor_push_run(dir, 200, 5, 10, out), 0);
    CHECK_EQ_INT(count_fds(), fds);
    FILE *f = fopen(out, "r");
    char j[1024] = "";
    if (f) {
        size_t n = fread(j, 1, sizeof j - 1, f);
        j[n] = 0;
        fclose(f);
    }
    CHECK(strstr(j, "\"pingpong_count\": 200,") != NULL);
    CHECK(strstr(j, "\"fdatasync_count\": 5,") != NULL);
    CHECK(strstr(j, "\"floor_p50_ms\": ") != NULL);
    /* only the JSON is left: the sync file was removed */
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.';
    if (d)
        closedir(d);
    CHECK_EQ_INT(entries, 1);
    unlink(out);
    rmdir(dir);
    /* a directory that does not exist: an error naming it */
    CHECK_EQ_INT(floor_push_run("/nonexistent-floor-dir", 10, 2, 5, NULL), 1);
}

TEST_MAIN()
