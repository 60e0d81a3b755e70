/* test_auth_keys: verification that waits for keys (src/proto/auth_keys.c) against a real
 * identity provider on 127.0.0.1 (our own HTTP server serving an OpenID configuration and a
 * JWKS): the first token waits for discovery + JWKS and then verifies, the next ones answer at
 * once with no fetch, an unknown kid right after a fetch is refused, an unreachable provider's
 * waiters get a clear error, a canceled waiter is never called, and new providers answer the
 * waiters of the old. */
#include <string.h>

#include "base/buf.h"
#include "jwt_sign.h"
#include "net/loop.h"
#include "net/server.h"
#include "proto/auth_keys.h"
#include "test.h"

#include "base/banned.h"

static struct loop *L;
static struct server *S;
static int discovery_hits, jwks_hits;
static struct buf jwks = BUF_INIT(BUF_NOLIMIT);

static void idp(struct conn *c, struct http_request *req, void *arg)
{
    char body[512];
    if (slice_eq_str(req->path, "/.well-known/openid-configuration")) {
        discovery_hits++;
        snprintf(body, sizeof(body),
                 "{\"issuer\":\"http://127.0.0.1:%d\",\"jwks_uri\":\"http://127.0.0.1:%d/jwks\"}",
                 server_port(S), server_port(S));
        http_respond(c, 200, "application/json", body, strlen(body), NULL);
    } else if (slice_eq_str(req->path, "/jwks")) {
        jwks_hits++;
        http_respond(c, 200, "application/json", jwks.data, jwks.len, NULL);
    } else {
        http_respond(c, 500, "text/plain", "down", 4, NULL);
    }
}

struct answer {
    int called, ok;
    char sub[64], err[600];
};

static void on_done(void *arg, const struct auth_result *r)
{
    struct answer *a = arg;
    a->called++;
    a->ok = r->identity != NULL;
    snprintf(a->sub, sizeof(a->sub), "%s",
             a->ok ? json_string_value(json_object_get(r->identity, "subject")) : "");
    snprintf(a->err, sizeof(a->err), "%s%s%s", r->code ? r->code : "", r->code ? ": " : "",
             r->err);
    loop_stop(L);
}

static void give_up(struct loop *l, struct timer *t)
{
    loop_stop(l);
}

static void run_until_stopped(void)
{
    struct timer t;
    timer_init(&t, give_up, NULL);
    loop_timer_start(L, &t, 5000);
    loop_run(L);
    loop_timer_stop(L, &t);
}

/* the OIDC provider at the test IdP's origin + path ("" or "/down": its discovery fails) */
static struct auth_keys *keys_for(const char *path)
{
    char config[512];
    snprintf(config, sizeof(config),
             "{\"providers\":[{\"domain\":\"http://127.0.0.1:%d%s\",\"applicationID\":\"app\"}]}",
             server_port(S), path);
    struct auth_providers *p = NULL;
    struct buf err = BUF_INIT(1024);
    if (auth_providers_new(config, strlen(config), &p, &err) < 0) {
        fprintf(stderr, "%s\n", err.data);
        abort();
    }
    buf_release(&err);
    struct auth_keys *ak = auth_keys_new(L);
    auth_keys_set_providers(ak, p);
    return ak;
}

static void token(struct buf *out, const char *kid, const char *sub)
{
    char header[96], payload[256];
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    /* exp an hour from now: these tokens are checked against the real clock */
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"http://127.0.0.1:%d\",\"aud\":\"app\",\"sub\":\"%s\",\"exp\":%.0f}",
             server_port(S), sub, (double)time(NULL) + 3600);
    make_token(out, header, payload, "ES256");
}

TEST(first_token_waits_for_keys_then_all_answer_at_once)
{
    struct auth_keys *ak = keys_for("");
    struct buf tok = BUF_INIT(BUF_NOLIMIT), err = BUF_INIT(1024);
    struct auth_result res;
    uint64_t wait = 0;
    struct answer a = { 0 }, b = { 0 };
    token(&tok, "e1", "alice");
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &a, &wait), 0);
    token(&tok, "e1", "bob");
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &b, &wait), 0);
    CHECK_EQ_INT(auth_keys_waiting(ak), 2);
    while (!(a.called && b.called))
        run_until_stopped();
    CHECK(a.ok && b.ok);
    CHECK_EQ_STR(a.sub, "alice");
    CHECK_EQ_STR(b.sub, "bob");
    CHECK_EQ_INT(discovery_hits, 1); /* one fetch for both waiters */
    CHECK_EQ_INT(jwks_hits, 1);
    /* keys known: answered now */
    token(&tok, "e1", "carol");
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &a, &wait), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(res.identity, "subject")), "carol");
    CHECK(res.exp > 1e12 && res.code == NULL);
    auth_result_release(&res);
    /* an unknown kid right after the fetch: refused now, no refetch */
    token(&tok, "rotated", "dave");
    buf_reset(&err);
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &a, &wait), 1);
    CHECK(res.identity == NULL);
    CHECK_EQ_STR(res.code, "InvalidToken");
    CHECK(strstr(res.err, "no key with the token's kid `rotated`"));
    CHECK_EQ_INT(jwks_hits, 1);
    auth_keys_free(ak);
    buf_release(&tok);
    buf_release(&err);
}

TEST(unreachable_provider_cancel_and_replaced_providers)
{
    /* discovery answers 500 */
    struct auth_keys *ak = keys_for("/down");
    struct buf tok = BUF_INIT(BUF_NOLIMIT), err = BUF_INIT(1024);
    struct auth_result res;
    uint64_t wait = 0;
    struct answer a = { 0 }, c = { 0 };
    char header[64], payload[256];
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\"}");
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"http://127.0.0.1:%d/down\",\"aud\":\"app\",\"sub\":\"x\",\"exp\":%.0f}",
             server_port(S), (double)time(NULL) + 3600);
    make_token(&tok, header, payload, "ES256");
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &a, &wait), 0);
    /* a second waiter, canceled: never called */
    uint64_t wait2 = 0;
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &c, &wait2), 0);
    auth_keys_cancel(ak, wait2);
    CHECK_EQ_INT(auth_keys_waiting(ak), 1);
    while (!a.called)
        run_until_stopped();
    CHECK(!a.ok);
    CHECK(strstr(a.err, "AuthUnavailable: "));
    CHECK(strstr(a.err, "could not be fetched") || strstr(a.err, "not available"));
    CHECK_EQ_INT(c.called, 0);
    /* right after the failure: refused at once, without a new fetch */
    buf_reset(&err);
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &a, &wait), 1);
    CHECK_EQ_STR(res.code, "AuthUnavailable");
    CHECK(strstr(res.err, "could not be fetched"));
    /* a waiter when the providers are replaced is answered against the new ones */
    auth_keys_free(ak);
    ak = keys_for("");
    struct answer d = { 0 };
    token(&tok, "e1", "erin");
    CHECK_EQ_INT(auth_keys_verify(ak, tok.data, tok.len, &res, on_done, &d, &wait), 0);
    auth_keys_set_providers(ak, NULL);
    CHECK_EQ_INT(d.called, 1);
    CHECK(!d.ok);
    CHECK(strstr(d.err, "No auth provider found matching the given token"));
    auth_keys_free(ak);
    buf_release(&tok);
    buf_release(&err);
}

__attribute__((constructor(300))) static void start_idp(void)
{
    L = loop_new();
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    struct buf err = BUF_INIT(256);
    if (server_start(L, &cfg, idp, NULL, &S, &err) < 0) {
        fprintf(stderr, "cannot start the test IdP: %s\n", err.data);
        abort();
    }
    buf_release(&err);
    buf_append_str(&jwks, "{\"keys\":[");
    jwk_of(&jwks, ec, ",\"kid\":\"e1\"");
    buf_append_str(&jwks, "]}");
}

TEST_MAIN()
