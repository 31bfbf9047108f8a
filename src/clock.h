/* clock: monotonic and wall-clock milliseconds (and monotonic nanoseconds).
 * Foundation layer. */
#ifndef TALLYD_CLOCK_H
#define TALLYD_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_mono_ns(void);
int64_t clock_wall_ms(void);

#endif
