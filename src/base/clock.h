/* clock: monotonic time for timers and latency, wall time for document timestamps. */
#ifndef VR_BASE_CLOCK_H
#define VR_BASE_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);
uint64_t clock_mono_ns(void);
double clock_wall_ms(void); /* milliseconds since the epoch, with sub-ms fraction */

#endif
