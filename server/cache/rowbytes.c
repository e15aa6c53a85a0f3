/* rowbytes.c: a cache row as bytes for the fleet's shared cache — dbrow's columns and checksum. */
#include "rowbytes.h"

#include <string.h>

#include "dbrow.h"

/*
 * "CBR1", expires (i64), found (u8), which columns are present (u8 bits:
 * lat, lon, formatted, conf, type), lat, lon, conf (f64), formatted and type
 * (u32 length, bytes), the checksum (u64) over the key and the row: all
 * little-endian, whatever the machine.
 */
#define MAGIC     "CBR1"
#define FIXED_LEN (4 + 8 + 1 + 1 + 3 * 8 + 4 + 4 + 8)

typedef struct wbuf {
	char *p;
	size_t n, cap;
} wbuf;

static void put(wbuf *w, const void *b, size_t n)
{
	if (n > 0 && w->n + n <= w->cap)
		memcpy(w->p + w->n, b, n);
	w->n += n;
}

static void put_u64(wbuf *w, uint64_t v, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(w, b, (size_t)bytes);
}

static void put_dbl(wbuf *w, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	put_u64(w, bits, 8);
}

size_t rowbytes_encode(const char *key, size_t keylen, const answer *a, uint64_t expires_ms,
                       char *out, size_t cap)
{
	wbuf w = {out, 0, cap};
	dbrow r;

	if (a->err != CB_OK && a->err != CB_ENOT_FOUND)
		return 0;
	dbrow_of_answer(a, expires_ms, &r);
	put(&w, MAGIC, 4);
	put_u64(&w, (uint64_t)r.expires_ms, 8);
	put_u64(&w, (uint64_t)r.found, 1);
	put_u64(&w,
	        (uint64_t)(r.has_lat | r.has_lon << 1 | r.has_formatted << 2 | r.has_conf << 3 |
	                   r.has_type << 4),
	        1);
	put_dbl(&w, r.lat);
	put_dbl(&w, r.lon);
	put_dbl(&w, r.conf);
	put_u64(&w, r.flen, 4);
	put(&w, r.formatted, r.flen);
	put_u64(&w, r.tlen, 4);
	put(&w, r.type, r.tlen);
	put_u64(&w, dbrow_checksum(key, keylen, &r), 8);
	return w.n;
}

typedef struct rbuf {
	const unsigned char *p;
	size_t n, off;
	int bad;
} rbuf;

static uint64_t get_u64(rbuf *r, int bytes)
{
	uint64_t v = 0;

	if (r->off + (size_t)bytes > r->n) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
	r->off += (size_t)bytes;
	return v;
}

static double get_dbl(rbuf *r)
{
	uint64_t bits = get_u64(r, 8);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static const char *get_bytes(rbuf *r, size_t *len)
{
	const char *s;

	*len = (size_t)get_u64(r, 4);
	if (r->bad || *len > r->n - r->off) {
		r->bad = 1;
		return NULL;
	}
	s = (const char *)r->p + r->off;
	r->off += *len;
	return s;
}

answer *rowbytes_decode(const char *key, size_t keylen, const char *buf, size_t len,
                        uint64_t now_ms, uint64_t *expires_ms, rowbytes_rc *rc)
{
	rbuf in = {(const unsigned char *)buf, len, 4, 0};
	dbrow r = {0};
	unsigned flags;
	answer *a;

	*rc = ROWBYTES_CORRUPT;
	if (len < FIXED_LEN || memcmp(buf, MAGIC, 4) != 0)
		return NULL;
	r.expires_ms = (int64_t)get_u64(&in, 8);
	r.found = (int64_t)get_u64(&in, 1);
	flags = (unsigned)get_u64(&in, 1);
	r.has_lat = flags & 1, r.has_lon = flags >> 1 & 1, r.has_formatted = flags >> 2 & 1;
	r.has_conf = flags >> 3 & 1, r.has_type = flags >> 4 & 1;
	r.lat = get_dbl(&in);
	r.lon = get_dbl(&in);
	r.conf = get_dbl(&in);
	r.formatted = get_bytes(&in, &r.flen);
	r.type = get_bytes(&in, &r.tlen);
	/* the checksum covers what a row holds; the bytes around it must be as encode writes them
	 */
	if (in.bad || get_u64(&in, 8) != dbrow_checksum(key, keylen, &r) || in.bad ||
	    in.off != len || (r.found != 0 && r.found != 1) || flags > 31 ||
	    (!r.has_lat && r.lat != 0) || (!r.has_lon && r.lon != 0) ||
	    (!r.has_conf && r.conf != 0))
		return NULL;
	if ((uint64_t)r.expires_ms <= now_ms) {
		*rc = ROWBYTES_EXPIRED;
		return NULL;
	}
	if ((a = dbrow_answer(&r)) == NULL)
		return NULL;
	*expires_ms = (uint64_t)r.expires_ms;
	*rc = ROWBYTES_OK;
	return a;
}
