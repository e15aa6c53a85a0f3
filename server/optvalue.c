/* optvalue.c: the value parsers of cellbatchd's flags (optvalue.h), kept apart from the flag table.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optvalue.h"

/* "250", "250ms", "5s", "10m", "1h", "30d" -> milliseconds; -1 also when that overflows. */
int parse_duration(const char *s, uint64_t *out)
{
	static const char *const unit[] = {"", "ms", "s", "m", "h", "d"};
	static const uint64_t ms[] = {1, 1, 1000, 60000, 3600000, 86400000};
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]) || (v = strtoull(s, &end, 10), errno != 0))
		return -1;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (strcmp(end, unit[i]) == 0 && v <= UINT64_MAX / ms[i]) {
			*out = v * ms[i];
			return 0;
		}
	return -1;
}

int parse_count(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	*out = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

/* A price in credits: a finite number >= 0. */
int parse_price(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno != 0 || end == s || *end != '\0' || !(*out >= 0) || isinf(*out)) ? -1 : 0;
}
