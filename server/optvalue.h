/* optvalue.h: the value parsers of cellbatchd's flags — durations, counts, prices, the key file. */
#ifndef CB_OPTVALUE_H
#define CB_OPTVALUE_H

#include <stdint.h>

/* "250", "250ms", "5s", "10m", "1h", "30d" -> milliseconds; -1 also when that overflows. */
int parse_duration(const char *s, uint64_t *out);
/* A decimal count; -1 for anything else. */
int parse_count(const char *s, uint64_t *out);
/* A price in credits: a finite number >= 0; -1 for anything else. */
int parse_price(const char *s, double *out);

#endif
