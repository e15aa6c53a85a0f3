/* hexbytes.h: "81 a1 76" → bytes, for tests that spell out hostile messages. */
#ifndef HEXBYTES_H
#define HEXBYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Parses whitespace-separated hex byte pairs into buf; returns the count. */
static inline size_t hexbytes(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int used;

	while (n < cap && sscanf(hex, " %2x%n", &v, &used) == 1) {
		buf[n++] = (uint8_t)v;
		hex += used;
	}
	return n;
}

#endif
