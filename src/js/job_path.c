/* job_path: the names components' scheduled jobs store (runtime.h "Jobs of components"). A
 * namespace "a/b/" is the store's prefix of component b (a child of a); its functions are
 * registered under "_components/a/_components/b/" (prelude 54_components.js). */
#include "js/runtime.h"

#include <string.h>

#include "base/banned.h"

#define COMPONENT_MARK "_components/"

/* Appends the function prefix of namespace ns ("a/b/" -> "_components/a/_components/b/"). */
static int append_prefix(const char *ns, struct buf *out)
{
    const char *seg = ns, *slash;
    while ((slash = strchr(seg, '/'))) {
        if (buf_append_str(out, COMPONENT_MARK) < 0 ||
            buf_append(out, seg, (size_t)(slash + 1 - seg)) < 0)
            return -1;
        seg = slash + 1;
    }
    return 0;
}

int js_job_name(const char *ns, const char *path, struct buf *out)
{
    buf_reset(out);
    if (!ns[0])
        return buf_append_str(out, path);
    if (append_prefix(ns, out) < 0)
        return -1;
    size_t n = out->len;
    if (!strncmp(path, out->data, n) && path[n]) {
        buf_reset(out);
        return buf_append_str(out, path + n);
    }
    buf_reset(out);
    return buf_append_str(out, JS_HANDLE_PREFIX) < 0 ? -1 : buf_append_str(out, path);
}

int js_job_function_path(const char *ns, const char *name, struct buf *out)
{
    buf_reset(out);
    size_t h = strlen(JS_HANDLE_PREFIX);
    if (!strncmp(name, JS_HANDLE_PREFIX, h))
        return buf_append_str(out, name + h);
    return append_prefix(ns, out) < 0 ? -1 : buf_append_str(out, name);
}

int js_job_split(const char *path, struct buf *ns, struct buf *name)
{
    size_t m = strlen(COMPONENT_MARK);
    const char *p = path, *slash;
    buf_reset(ns);
    buf_reset(name);
    while (!strncmp(p, COMPONENT_MARK, m) && (slash = strchr(p + m, '/'))) {
        if (buf_append(ns, p + m, (size_t)(slash + 1 - (p + m))) < 0)
            return -1;
        p = slash + 1;
    }
    return buf_append_str(name, p);
}
