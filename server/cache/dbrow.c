/* dbrow.c: one row of the cache's table — its checksum, and its way to and from an answer and
 * SQLite's statements. */
#include <string.h>

#include "dbfile.h"
#include "dbrow.h"

/* ------------------------------------------------------------ the checksum */

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME  1099511628211ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Little-endian whatever the machine: a file may move between machines. */
static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return fnv(h, b, sizeof(b));
}

static uint64_t fnv_dbl(uint64_t h, bool has, double d)
{
	uint64_t bits = 0;

	/* SQLite stores an integral REAL as an integer: -0.0 comes back as 0.0 */
	if (d == 0)
		d = 0;
	if (has)
		memcpy(&bits, &d, sizeof(bits));
	return fnv_u64(fnv_u64(h, has), bits);
}

static uint64_t fnv_str(uint64_t h, bool has, const char *s, size_t n)
{
	h = fnv_u64(fnv_u64(h, has), has ? n : 0);
	return has ? fnv(h, s, n) : h;
}

/*
 * FNV-1a 64 over the key and every column as it is stored, each with its
 * length or null-ness, so that no change moves bytes from one field to the
 * next unnoticed. A changed byte within a value always changes the sum (each
 * step of FNV-1a is a bijection of its state); other damage goes unseen with
 * odds of about 2^-64. Cheap (a few ns a byte) and needs nothing but this.
 */
uint64_t dbrow_fnv(const void *p, size_t n)
{
	return fnv(FNV_OFFSET, p, n);
}

uint64_t dbrow_checksum(const char *key, size_t keylen, const dbrow *r)
{
	uint64_t h = fnv(fnv_u64(FNV_OFFSET, keylen), key, keylen);

	h = fnv_u64(h, (uint64_t)r->expires_ms);
	h = fnv_u64(h, (uint64_t)r->found);
	h = fnv_dbl(h, r->has_lat, r->lat);
	h = fnv_dbl(h, r->has_lon, r->lon);
	h = fnv_str(h, r->has_formatted, r->formatted, r->flen);
	h = fnv_dbl(h, r->has_conf, r->conf);
	return fnv_str(h, r->has_type, r->type, r->tlen);
}

/* ------------------------------------------------------------ rows, answers, statements */

void dbrow_of_answer(const answer *a, uint64_t expires, dbrow *r)
{
	memset(r, 0, sizeof(*r));
	r->expires_ms = (int64_t)expires;
	r->found = a->err == CB_OK;
	if (!r->found)
		return; /* NOT_FOUND: every value column null */
	r->has_lat = r->has_lon = r->has_formatted = true;
	r->lat = a->result.lat;
	r->lon = a->result.lon;
	r->formatted = a->result.formatted.ptr;
	r->flen = a->result.formatted.len;
	r->has_conf = a->result.has_confidence;
	r->conf = a->result.confidence;
	r->has_type = a->result.result_type.ptr != NULL;
	r->type = a->result.result_type.ptr;
	r->tlen = r->has_type ? a->result.result_type.len : 0;
}

/* The columns of the row q stands on; the type of each before its value (SQLite's rule). */
void dbrow_of_stmt(sqlite3_stmt *q, dbrow *r)
{
	r->expires_ms = sqlite3_column_int64(q, COL_EXPIRES);
	r->found = sqlite3_column_int64(q, COL_FOUND);
	r->has_lat = sqlite3_column_type(q, COL_LAT) != SQLITE_NULL;
	r->lat = sqlite3_column_double(q, COL_LAT);
	r->has_lon = sqlite3_column_type(q, COL_LON) != SQLITE_NULL;
	r->lon = sqlite3_column_double(q, COL_LON);
	r->has_formatted = sqlite3_column_type(q, COL_FORMATTED) != SQLITE_NULL;
	r->formatted = (const char *)sqlite3_column_text(q, COL_FORMATTED);
	r->flen = (size_t)sqlite3_column_bytes(q, COL_FORMATTED);
	r->has_conf = sqlite3_column_type(q, COL_CONF) != SQLITE_NULL;
	r->conf = sqlite3_column_double(q, COL_CONF);
	r->has_type = sqlite3_column_type(q, COL_TYPE) != SQLITE_NULL;
	r->type = (const char *)sqlite3_column_text(q, COL_TYPE);
	r->tlen = (size_t)sqlite3_column_bytes(q, COL_TYPE);
}

answer *dbrow_answer(const dbrow *r)
{
	if (!r->found)
		return answer_error(CB_ENOT_FOUND, "no result for this input");
	return answer_result(r->lat, r->lon, r->formatted ? r->formatted : "", r->flen,
	                     r->has_conf ? &r->conf : NULL, r->has_type ? r->type : NULL, r->tlen);
}

static int bind_dbl(sqlite3_stmt *p, int i, bool has, double d)
{
	return has ? sqlite3_bind_double(p, i, d) : sqlite3_bind_null(p, i);
}

static int bind_str(sqlite3_stmt *p, int i, bool has, const char *s, size_t n)
{
	return has ? sqlite3_bind_text(p, i, s ? s : "", (int)n, SQLITE_STATIC)
	           : sqlite3_bind_null(p, i);
}

/* Binds exactly what the checksum covers; SQLITE_OK (0) or some failure. */
int dbrow_bind(sqlite3_stmt *p, const char *key, size_t keylen, const dbrow *r)
{
	int rc = sqlite3_bind_blob(p, 1, key, (int)keylen, SQLITE_STATIC);

	rc |= sqlite3_bind_int64(p, 2, r->expires_ms);
	rc |= sqlite3_bind_int64(p, 3, r->found);
	rc |= bind_dbl(p, 4, r->has_lat, r->lat);
	rc |= bind_dbl(p, 5, r->has_lon, r->lon);
	rc |= bind_str(p, 6, r->has_formatted, r->formatted, r->flen);
	rc |= bind_dbl(p, 7, r->has_conf, r->conf);
	rc |= bind_str(p, 8, r->has_type, r->type, r->tlen);
	rc |= sqlite3_bind_int64(p, 9, (sqlite3_int64)dbrow_checksum(key, keylen, r));
	return rc;
}
