/* fmsg.c: the fleet's results channel's message (fmsg.h). */
#include "fmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_u32(char *p, size_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static size_t get_u32(const char *p)
{
	const unsigned char *b = (const unsigned char *)p;

	return (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
}

char *fmsg_pack(const fmsg_rec *recs, size_t stride, size_t n, size_t *len)
{
	size_t total = 0, off = 0;
	char *m;

	for (size_t i = 0; i < n; i++) {
		const fmsg_rec *r = (const fmsg_rec *)((const char *)recs + i * stride);
		total += 8 + r->keylen + r->vlen;
	}
	if ((m = malloc(total ? total : 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const fmsg_rec *r = (const fmsg_rec *)((const char *)recs + i * stride);
		put_u32(m + off, r->keylen);
		memcpy(m + off + 4, r->key, r->keylen);
		off += 4 + r->keylen;
		put_u32(m + off, r->vlen);
		if (r->vlen > 0)
			memcpy(m + off + 4, r->val, r->vlen);
		off += 4 + r->vlen;
	}
	*len = total;
	return m;
}

bool fmsg_next(const char *m, size_t len, size_t *off, fmsg_rec *out)
{
	size_t left = len - *off, kl, vl;

	if (*off > len || left < 8 || (kl = get_u32(m + *off)) > left - 8 ||
	    (vl = get_u32(m + *off + 4 + kl)) > left - 8 - kl)
		return false;
	out->key = (char *)m + *off + 4;
	out->keylen = kl;
	out->val = vl ? (char *)m + *off + 8 + kl : NULL;
	out->vlen = vl;
	*off += 8 + kl + vl;
	return true;
}
