/* native_polyfill: native.polyfill(name), which evaluates one of the npm polyfills the build
 * embeds apart from the prelude (Makefile; tools/bundle_polyfill.mjs) and returns what its
 * script evaluates to: a function taking the polyfill's private global object and returning its
 * exports. The prelude calls it once per runtime, on the first use of the API, so that runtimes
 * of apps that never use it neither parse nor start it. */
#include <stdio.h>
#include <string.h>

#include "js/js_int.h"

#include "base/banned.h"

extern const char vr_polyfill_url_js[];
extern const size_t vr_polyfill_url_js_len;
extern const char vr_polyfill_immer_js[];
extern const size_t vr_polyfill_immer_js_len;

static const struct {
    const char *name;
    const char *src;
    const size_t *len;
} polyfills[] = {
    { "url", vr_polyfill_url_js, &vr_polyfill_url_js_len },
    { "immer", vr_polyfill_immer_js, &vr_polyfill_immer_js_len },
};

/* native.polyfill(name) -> the script's value (a function) */
static JSValueRef n_polyfill(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    char name[32] = "";
    if (argc > 0 && JSValueIsString(ctx, argv[0])) {
        JSStringRef s = JSValueToStringCopy(ctx, argv[0], NULL);
        if (s) {
            JSStringGetUTF8CString(s, name, sizeof name);
            JSStringRelease(s);
        }
    }
    for (size_t i = 0; i < sizeof(polyfills) / sizeof(polyfills[0]); i++) {
        if (strcmp(polyfills[i].name, name))
            continue;
        /* the embedded text is NUL-terminated (tools/embed) */
        JSStringRef src = JSStringCreateWithUTF8CString(polyfills[i].src);
        char url[64];
        snprintf(url, sizeof url, "vireo:polyfill/%s", name);
        JSStringRef u = JSStringCreateWithUTF8CString(url);
        JSValueRef v = JSEvaluateScript(ctx, src, NULL, u, 1, exc);
        JSStringRelease(u);
        JSStringRelease(src);
        return v ? v : JSValueMakeUndefined(ctx);
    }
    *exc = js_make_error(ctx, "InternalError", "native.polyfill: no such polyfill");
    return JSValueMakeUndefined(ctx);
}

void js_native_polyfill_add(JSContextRef ctx, JSObjectRef native)
{
    JSStringRef name = JSStringCreateWithUTF8CString("polyfill");
    JSObjectRef f = JSObjectMakeFunctionWithCallback(ctx, name, n_polyfill);
    JSObjectSetProperty(ctx, native, name, f, kJSPropertyAttributeReadOnly, NULL);
    JSStringRelease(name);
}
