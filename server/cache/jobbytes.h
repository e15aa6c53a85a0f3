/* jobbytes.h: a journalled job as bytes — the SQLite journal's two blobs, and the one checksummed
 * record the fleet keeps in Redis (fleet/fjob.c), so that a damaged record is skipped, not polled
 * for the wrong items. */
#ifndef CB_JOBBYTES_H
#define CB_JOBBYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbproto.h"

/* One input of a journalled job (borrowed strings). */
typedef struct journal_item {
	const char *key; /* the cache and dedup key */
	size_t keylen;
	const char *text; /* geocode */
	size_t text_len;
	double lat, lon; /* reverse */
} journal_item;

/* One job as journalled (borrowed: valid during the visit only). */
typedef struct journal_job {
	const char *id; /* the upstream's job id */
	cb_fn fn;
	const char *opt[CB_OPT_COUNT]; /* NULL when absent */
	uint64_t submitted_ms;         /* wall clock */
	journal_item *items;
	uint32_t n;
} journal_job;

/* A growing byte buffer; ok turns false when memory runs out (p is then the caller's to free). */
typedef struct jobbytes_buf {
	unsigned char *p;
	size_t len, cap;
	bool ok;
} jobbytes_buf;

/* A decoded job: j points into the bytes it came from, and into opt and id here. */
typedef struct jobbytes_view {
	journal_job j;
	char id[64];
	char opt[CB_OPT_COUNT][CB_TEXT_MAX + 1];
} jobbytes_view;

/* j's options and items as two blobs (appended to opts and items); false without memory. */
bool jobbytes_encode(const journal_job *j, jobbytes_buf *opts, jobbytes_buf *items);
/* The two blobs back into v->j's options and items; false when they do not parse. Either way
 * jobbytes_view_fini(v) frees what it made. */
bool jobbytes_decode(const void *opts, size_t olen, const void *items, size_t ilen,
                     jobbytes_view *v);
void jobbytes_view_fini(jobbytes_view *v);

/* The whole of j (id, function, time, options, items) and a checksum as one record: malloc'd, its
 * length in *len; NULL without memory or when the id does not fit. */
char *jobbytes_pack(const journal_job *j, size_t *len);
/* A record of jobbytes_pack into v (pointing into buf; jobbytes_view_fini after, either way);
 * false when it is damaged or not one. */
bool jobbytes_unpack(const char *buf, size_t len, jobbytes_view *v);

#endif
