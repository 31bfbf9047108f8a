/* metric: names of the metric types as they appear on the wire. */
#include "metric.h"

const char *metric_type_name(enum metric_type t)
{
	static const char *const names[METRIC_TYPE_COUNT] = {"c", "g", "s", "ms", "h", "d"};
	return (unsigned)t < METRIC_TYPE_COUNT ? names[t] : "?";
}
