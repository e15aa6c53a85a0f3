/* mdhex.h: reads the hex-dump examples out of PROTOCOL.md, for tests and the fuzz corpus. */
#ifndef MDHEX_H
#define MDHEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mdhex_example {
	bool is_request; /* "```hex request" or "```hex reply" */
	char title[128]; /* the nearest "####" heading */
	uint8_t *bytes;  /* owned */
	size_t len;
} mdhex_example;

/* Loads every example of the file; the caller frees with mdhex_free. Returns the count or -1. */
int mdhex_load(const char *path, mdhex_example **out);
void mdhex_free(mdhex_example *ex, int n);

#endif
