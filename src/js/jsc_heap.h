/* jsc_heap: the JS heap's size, readable while JavaScriptCore has an exception pending.
 * The watchdog's callback (runtime.c on_time_limit) measures the heap for the memory limit. JSC
 * handles its traps, the watchdog's included, inside its own exception checks, i.e. possibly
 * with an exception pending (a proxy's get trap that threw, a revoked proxy), and every C API
 * function that catches exceptions (JSObjectGetProperty, JSValueToNumber) clears the pending
 * one: the script went on as if nothing had been thrown (the proxy read gave undefined, 2-3
 * times per hot function's life). JSGetMemoryUsageStatistics itself catches nothing, so the size
 * is read from the object it returns without the API: `heapSize`, the first property it puts, is
 * the first inline slot of a JSFinalObject (JSVALUE64: an 8-byte cell header, the butterfly
 * pointer, then the inline storage), a number encoded as JSVALUE64 numbers are. jsc_heap_check
 * confirms that against the API once, where no script runs; if it does not hold, reads go
 * through the API (and the loss above can happen). */
#ifndef VR_JS_JSC_HEAP_H
#define VR_JS_JSC_HEAP_H

#include <JavaScriptCore/JavaScript.h>
#include <stdbool.h>

/* Confirms the layout on ctx, which must not be running a script (a fresh runtime); the answer
 * is kept for the process. Thread-safe. Returns whether reads go around the API. */
bool jsc_heap_check(JSContextRef ctx);
/* The heap's size in bytes (objects plus the memory they hold: array buffers, strings). */
double jsc_heap_bytes(JSContextRef ctx);

#endif
