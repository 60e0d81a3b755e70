/* jsc_heap: the JS heap's size without JavaScriptCore's exception-catching API (jsc_heap.h says
 * why and how). */
#include <stdint.h>
#include <string.h>

#include "base/log.h"
#include "js/js_int.h"
#include "js/jsc_heap.h"

#include "base/banned.h"

/* Exported by JavaScriptCore but declared only in a private header (JSBasePrivate.h); the
 * collections' declarations are js_int.h's. */
JSObjectRef JSGetMemoryUsageStatistics(JSContextRef);

#define JSVALUE_NUMBER_TAG 0xfffe000000000000ull /* int32s carry all of it, doubles some */
#define JSVALUE_DOUBLE_OFFSET (1ull << 49)
#define FINAL_OBJECT_INLINE_OFFSET 16 /* the cell header (8), the butterfly pointer (8) */

static int layout_state; /* 0: not checked, 1: holds, -1: does not */

/* The first inline property of obj, as a number; -1 if it is not one. */
static double first_inline_number(JSObjectRef obj)
{
    uint64_t bits;
    memcpy(&bits, (const char *)obj + FINAL_OBJECT_INLINE_OFFSET, sizeof bits);
    if ((bits & JSVALUE_NUMBER_TAG) == JSVALUE_NUMBER_TAG)
        return (double)(int32_t)(uint32_t)bits;
    if (!(bits & JSVALUE_NUMBER_TAG))
        return -1; /* a cell, or undefined/null/booleans */
    bits -= JSVALUE_DOUBLE_OFFSET;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static double api_heap_bytes(JSContextRef ctx, JSObjectRef st)
{
    JSStringRef k = JSStringCreateWithUTF8CString("heapSize");
    JSValueRef v = JSObjectGetProperty(ctx, st, k, NULL);
    JSStringRelease(k);
    return v && JSValueIsNumber(ctx, v) ? JSValueToNumber(ctx, v, NULL) : 0;
}

bool jsc_heap_check(JSContextRef ctx)
{
    int s = __atomic_load_n(&layout_state, __ATOMIC_ACQUIRE);
    if (s)
        return s > 0;
    JSSynchronousEdenCollectForDebugging(ctx); /* the size is 0 before the first collection */
    JSObjectRef st = JSGetMemoryUsageStatistics(ctx);
    double api = st ? api_heap_bytes(ctx, st) : 0;
    s = st && api > 0 && first_inline_number(st) == api ? 1 : -1;
    if (s < 0)
        vr_log(LOG_WARN, "js",
               "JavaScriptCore's memory statistics are not laid out as expected: the memory "
               "limit's heap checks read them through the API, which may drop an exception "
               "pending in the running script");
    __atomic_store_n(&layout_state, s, __ATOMIC_RELEASE);
    return s > 0;
}

double jsc_heap_bytes(JSContextRef ctx)
{
    JSObjectRef st = JSGetMemoryUsageStatistics(ctx);
    if (!st)
        return 0;
    if (__atomic_load_n(&layout_state, __ATOMIC_ACQUIRE) > 0) {
        double n = first_inline_number(st);
        return n < 0 ? 0 : n;
    }
    return api_heap_bytes(ctx, st);
}
