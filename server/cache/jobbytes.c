/* jobbytes.c: a journalled job as bytes (jobbytes.h). Integers and doubles are in the machine's
 * order, as the journal always kept them: a fleet's machines share it (x86-64, arm64). */
#include "jobbytes.h"

#include <stdlib.h>
#include <string.h>

#include "dbrow.h"

#define MAGIC     "CBJ1"
#define MAGIC_LEN 4

static void put(jobbytes_buf *b, const void *src, size_t n)
{
	if (!b->ok)
		return;
	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;
		unsigned char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->ok = false;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

/* A string as a 2-byte length (0xffff: absent) and its bytes. */
static void put_str(jobbytes_buf *b, const char *s, size_t len)
{
	uint16_t l = s != NULL ? (uint16_t)len : 0xffff;

	put(b, &l, sizeof(l));
	if (s != NULL)
		put(b, s, len);
}

/* Reads n bytes into dst; false past the end. */
static bool get(const unsigned char **p, const unsigned char *end, void *dst, size_t n)
{
	if ((size_t)(end - *p) < n)
		return false;
	memcpy(dst, *p, n);
	*p += n;
	return true;
}

/* Reads what put_str wrote; false past the end. */
static bool get_str(const unsigned char **p, const unsigned char *end, const char **s, size_t *len)
{
	uint16_t l;

	if (!get(p, end, &l, sizeof(l)))
		return false;
	*s = NULL;
	*len = 0;
	if (l == 0xffff)
		return true;
	if ((size_t)(end - *p) < l)
		return false;
	*s = (const char *)*p;
	*len = l;
	*p += l;
	return true;
}

bool jobbytes_encode(const journal_job *j, jobbytes_buf *opts, jobbytes_buf *items)
{
	for (int i = 0; i < CB_OPT_COUNT; i++)
		put_str(opts, j->opt[i], j->opt[i] ? strlen(j->opt[i]) : 0);
	put(items, &j->n, sizeof(j->n));
	for (uint32_t i = 0; i < j->n; i++) {
		const journal_item *it = &j->items[i];
		put_str(items, it->key, it->keylen);
		put_str(items, it->text ? it->text : "", it->text_len);
		put(items, &it->lat, sizeof(it->lat));
		put(items, &it->lon, sizeof(it->lon));
	}
	return opts->ok && items->ok;
}

static bool decode_items(const unsigned char *p, const unsigned char *end, journal_job *j)
{
	if (!get(&p, end, &j->n, sizeof(j->n)) || j->n == 0 || j->n > 1000 ||
	    (j->items = calloc(j->n, sizeof(*j->items))) == NULL)
		return false;
	for (uint32_t i = 0; i < j->n; i++) {
		journal_item *it = &j->items[i];
		if (!get_str(&p, end, &it->key, &it->keylen) || it->key == NULL ||
		    !get_str(&p, end, &it->text, &it->text_len) ||
		    !get(&p, end, &it->lat, sizeof(double)) ||
		    !get(&p, end, &it->lon, sizeof(double)))
			return false;
	}
	return true;
}

bool jobbytes_decode(const void *opts, size_t olen, const void *items, size_t ilen,
                     jobbytes_view *v)
{
	const unsigned char *o = opts, *oend = o + olen;
	const char *s;
	size_t len;

	v->j.items = NULL;
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		if (!get_str(&o, oend, &s, &len) || len > CB_TEXT_MAX)
			return false;
		v->j.opt[i] = s != NULL ? memcpy(v->opt[i], s, len) : NULL;
		if (s != NULL)
			v->opt[i][len] = '\0';
	}
	return decode_items(items, (const unsigned char *)items + ilen, &v->j);
}

void jobbytes_view_fini(jobbytes_view *v)
{
	free(v->j.items);
	v->j.items = NULL;
}

char *jobbytes_pack(const journal_job *j, size_t *len)
{
	jobbytes_buf rec = {.ok = true}, opts = {.ok = true}, items = {.ok = true};
	uint8_t fn = (uint8_t)j->fn;
	uint32_t l;
	uint64_t sum;

	if (strlen(j->id) >= sizeof(((jobbytes_view *)0)->id) || !jobbytes_encode(j, &opts, &items))
		goto fail;
	put(&rec, MAGIC, MAGIC_LEN);
	put(&rec, &fn, sizeof(fn));
	put(&rec, &j->submitted_ms, sizeof(j->submitted_ms));
	put_str(&rec, j->id, strlen(j->id));
	l = (uint32_t)opts.len;
	put(&rec, &l, sizeof(l));
	put(&rec, opts.p, opts.len);
	l = (uint32_t)items.len;
	put(&rec, &l, sizeof(l));
	put(&rec, items.p, items.len);
	sum = rec.ok ? dbrow_fnv(rec.p, rec.len) : 0;
	put(&rec, &sum, sizeof(sum));
	if (!rec.ok)
		goto fail;
	free(opts.p), free(items.p);
	*len = rec.len;
	return (char *)rec.p;
fail:
	free(rec.p), free(opts.p), free(items.p);
	return NULL;
}

bool jobbytes_unpack(const char *buf, size_t len, jobbytes_view *v)
{
	const unsigned char *p = (const unsigned char *)buf, *end;
	uint32_t olen, ilen;
	uint64_t sum;
	uint8_t fn;
	const char *id, *opts;
	size_t idlen;

	v->j = (journal_job){.id = v->id};
	if (len < MAGIC_LEN + sizeof(sum) || memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return false;
	end = p + len - sizeof(sum);
	memcpy(&sum, end, sizeof(sum));
	if (sum != dbrow_fnv(p, len - sizeof(sum)))
		return false;
	p += MAGIC_LEN;
	if (!get(&p, end, &fn, sizeof(fn)) || fn >= CB_FN_COUNT ||
	    !get(&p, end, &v->j.submitted_ms, sizeof(v->j.submitted_ms)) ||
	    !get_str(&p, end, &id, &idlen) || id == NULL || idlen == 0 || idlen >= sizeof(v->id) ||
	    !get(&p, end, &olen, sizeof(olen)) || (size_t)(end - p) < olen)
		return false;
	v->j.fn = (cb_fn)fn;
	memcpy(v->id, id, idlen);
	v->id[idlen] = '\0';
	opts = (const char *)p;
	p += olen;
	if (!get(&p, end, &ilen, sizeof(ilen)) || (size_t)(end - p) != ilen)
		return false;
	return jobbytes_decode(opts, olen, p, ilen, v);
}
