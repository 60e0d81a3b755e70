/* deploy: the bundle file `vireo build` writes and `vireo serve --bundle` and `vireo deploy` use
 * (one JavaScript file: a header comment naming the functions folder, then esbuild's bundle with
 * its inline source map), and POST /api/admin/deploy, which loads such a file into the running
 * shard all or nothing: a bundle that does not load leaves the old version serving. */
#ifndef VR_PROTO_DEPLOY_H
#define VR_PROTO_DEPLOY_H

#include <stddef.h>

#include "base/buf.h"
#include "net/server.h"
#include "proto/shard.h"

/* The first line of a bundle file: DEPLOY_MAGIC, the functions folder ("convex/"), then " * /"
 * (without the space) and a newline: a comment, so the file as a whole is still JavaScript. */
#define DEPLOY_MAGIC "/* vireo-bundle 1 functions="
#define DEPLOY_NAME_MAX 128

/* Appends the header line for a bundle of the functions folder `name` ("convex/"). */
void deploy_header(struct buf *out, const char *name);

/* Checks a bundle file's header: 0 with the folder name in name (NUL-terminated, at most
 * DEPLOY_NAME_MAX - 1 bytes) and the offset of the bundle's JavaScript in *js_off, or -1 with a
 * message in err. */
int deploy_parse(const char *data, size_t len, char name[DEPLOY_NAME_MAX], size_t *js_off,
                 struct buf *err);

/* POST /api/admin/deploy (the caller has checked the admin key): the body is a bundle file.
 * Answers {"status":"success","functions":N,"name":"convex/"} once the new version serves, or
 * 400 {"status":"error","errorCode":"BadBundle"|"DeployFailed",...} with the old version kept.
 * A version that loaded is also written to save_path (atomically, mode 0600; NULL: not saved),
 * so that `vireo serve --bundle save_path` restarts with it; a failed write is logged. */
void deploy_handle(struct shard *s, struct conn *c, const struct http_request *req,
                   const char *save_path);

/* A bundle file whose version serves, written to save_path (atomically, mode 0600; NULL:
 * nothing); a failed write is logged, not returned: the version serves either way. */
void deploy_save(const char *save_path, const char *file, size_t len);

/* deploy_handle's ends, for the deploy that loads off the loop thread (deployer.h): the version
 * in s serves: saves the file to save_path (NULL: not saved; a failed write is logged) and
 * answers c (NULL: gone) with its function count; or answers c with a JSON error. */
void deploy_answer_loaded(struct shard *s, struct conn *c, const char *file, size_t len,
                          const char *name, const char *save_path);
void deploy_answer_error(struct conn *c, int status, const char *code, const char *msg,
                         size_t len);

#endif
