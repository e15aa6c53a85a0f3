/* prescan.c: a non-allocating walk over untrusted msgpack bytes, run before msgpack-c allocates
 * anything. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cbproto.h"

/*
 * msgpack-c sizes its allocations from the headers it reads (count x 24 or
 * 48 bytes) before it reads any element, so a 5-byte message can ask for
 * gigabytes. This walk checks every header against the bytes that remain,
 * so what msgpack-c later allocates is bounded by the message itself, and it
 * rejects everything invalid anywhere in the tree (UTF-8, NaN) while it can
 * still name where.
 */

typedef struct frame {
	bool is_map;
	bool have_key; /* map: key of the current value is known */
	uint32_t index;
	const char *key;
	uint32_t keylen;
} frame;

typedef struct scan {
	const uint8_t *base, *p, *end;
	unsigned depth;
	frame stack[CB_MAX_DEPTH];
	size_t zone;
	cb_decode_error *err;
} scan;

bool cb_utf8_valid(const char *str, size_t len, size_t *bad)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			goto fail;
		}
		if (len - i <= n)
			goto fail;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto fail;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates and code points past U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			goto fail;
		i += n + 1;
	}
	return true;
fail:
	if (bad != NULL)
		*bad = i;
	return false;
}

static size_t render_path(const scan *s, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned d = 0; d < s->depth && n < cap; d++) {
		const frame *f = &s->stack[d];
		int w;

		if (f->is_map) {
			if (!f->have_key)
				break;
			w = snprintf(out + n, cap - n, "%s%.*s", n ? "." : "",
			             (int)(f->keylen > 40 ? 40 : f->keylen), f->key);
		} else {
			w = snprintf(out + n, cap - n, "[%u]", f->index);
		}
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (n == 0)
		n = (size_t)snprintf(out, cap, "body");
	return n < cap ? n : cap - 1;
}

__attribute__((format(printf, 2, 3))) static int fail(scan *s, const char *fmt, ...)
{
	char path[CB_ERRMSG_MAX / 2];
	va_list ap;
	int n;

	render_path(s, path, sizeof(path));
	n = snprintf(s->err->message, sizeof(s->err->message), "%s: ", path);
	va_start(ap, fmt);
	vsnprintf(s->err->message + n, sizeof(s->err->message) - (size_t)n, fmt, ap);
	va_end(ap);
	s->err->code = CB_EBAD_REQUEST;
	return -1;
}

static size_t left(const scan *s)
{
	return (size_t)(s->end - s->p);
}

static size_t offset(const scan *s)
{
	return (size_t)(s->p - s->base);
}

/* Reads an n-byte big-endian unsigned integer. */
static int read_be(scan *s, unsigned n, uint64_t *v)
{
	if (left(s) < n)
		return fail(s, "message truncated at byte %zu", offset(s));
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = (*v << 8) | s->p[i];
	s->p += n;
	return 0;
}

static int skip(scan *s, uint64_t n, const char *what)
{
	if (n > left(s))
		return fail(s, "%s length %llu exceeds the %zu bytes remaining", what,
		            (unsigned long long)n, left(s));
	s->p += n;
	return 0;
}

const char *cbp_msgpack_type_of_byte(uint8_t b)
{
	if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
		return "integer";
	if (b <= 0x8f || b == 0xde || b == 0xdf)
		return "map";
	if (b <= 0x9f || b == 0xdc || b == 0xdd)
		return "array";
	if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
		return "string";
	switch (b) {
	case 0xc0:
		return "nil";
	case 0xc2:
	case 0xc3:
		return "boolean";
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return "binary";
	case 0xca:
	case 0xcb:
		return "float";
	case 0xc1:
		return "invalid byte 0xc1";
	default:
		return "extension";
	}
}

static int scan_value(scan *s);

static int scan_str(scan *s, uint64_t n)
{
	size_t bad;

	if (n > left(s))
		return fail(s, "string length %llu exceeds the %zu bytes remaining",
		            (unsigned long long)n, left(s));
	if (!cb_utf8_valid((const char *)s->p, (size_t)n, &bad))
		return fail(s, "invalid UTF-8 at byte %zu of the string", bad);
	s->p += n;
	return 0;
}

static int push(scan *s, bool is_map)
{
	if (s->depth == CB_MAX_DEPTH)
		return fail(s, "nesting deeper than %d levels", CB_MAX_DEPTH);
	s->stack[s->depth++] = (frame){.is_map = is_map};
	return 0;
}

static int scan_array(scan *s, uint64_t n)
{
	if (n > left(s))
		return fail(s, "array header claims %llu elements but only %zu bytes remain",
		            (unsigned long long)n, left(s));
	if (push(s, false) != 0)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		s->stack[s->depth - 1].index = (uint32_t)i;
		if (scan_value(s) != 0)
			return -1;
	}
	s->depth--;
	s->zone += (size_t)n * sizeof(msgpack_object);
	return 0;
}

static int scan_key(scan *s, frame *f)
{
	uint64_t n = 0;
	uint8_t b;

	f->have_key = false;
	if (left(s) == 0)
		return fail(s, "message truncated at byte %zu", offset(s));
	b = *s->p++;
	if (b >= 0xa0 && b <= 0xbf)
		n = b & 0x1f;
	else if (b == 0xd9 || b == 0xda || b == 0xdb) {
		if (read_be(s, 1u << (b - 0xd9), &n) != 0)
			return -1;
	} else
		return fail(s, "map key must be a string, got %s", cbp_msgpack_type_of_byte(b));
	if (scan_str(s, n) != 0)
		return -1;
	f->key = (const char *)s->p - n;
	f->keylen = (uint32_t)n;
	f->have_key = true;
	return 0;
}

static int scan_map(scan *s, uint64_t n)
{
	if (n > left(s) / 2)
		return fail(s, "map header claims %llu entries but only %zu bytes remain",
		            (unsigned long long)n, left(s));
	if (push(s, true) != 0)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		if (scan_key(s, &s->stack[s->depth - 1]) != 0)
			return -1;
		if (scan_value(s) != 0)
			return -1;
	}
	s->depth--;
	s->zone += (size_t)n * sizeof(msgpack_object_kv);
	return 0;
}

static int scan_float(scan *s, unsigned width)
{
	uint64_t bits = 0;
	double d;

	if (read_be(s, width, &bits) != 0)
		return -1;
	if (width == 4) {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof(f));
		d = f;
	} else {
		memcpy(&d, &bits, sizeof(d));
	}
	if (!isfinite(d))
		return fail(s, "number is not finite");
	return 0;
}

static int scan_value(scan *s)
{
	uint64_t n = 0;
	uint8_t b;

	if (left(s) == 0)
		return fail(s, "message truncated at byte %zu", offset(s));
	b = *s->p++;
	if (b <= 0x7f || b >= 0xe0)
		return 0;
	if (b <= 0x8f)
		return scan_map(s, b & 0x0f);
	if (b <= 0x9f)
		return scan_array(s, b & 0x0f);
	if (b <= 0xbf)
		return scan_str(s, b & 0x1f);

	switch (b) {
	case 0xc0:
	case 0xc2:
	case 0xc3:
		return 0;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		if (read_be(s, 1u << (b - 0xc4), &n) != 0)
			return -1;
		return skip(s, n, "binary");
	case 0xc7:
	case 0xc8:
	case 0xc9:
		if (read_be(s, 1u << (b - 0xc7), &n) != 0)
			return -1;
		return skip(s, n + 1, "extension");
	case 0xca:
		return scan_float(s, 4);
	case 0xcb:
		return scan_float(s, 8);
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		return skip(s, 1u << (b - 0xcc), "integer");
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		return skip(s, 1u << (b - 0xd0), "integer");
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return skip(s, 1u + (1u << (b - 0xd4)), "extension");
	case 0xd9:
	case 0xda:
	case 0xdb:
		if (read_be(s, 1u << (b - 0xd9), &n) != 0)
			return -1;
		return scan_str(s, n);
	case 0xdc:
	case 0xdd:
		if (read_be(s, 2u << (b - 0xdc), &n) != 0)
			return -1;
		return scan_array(s, n);
	case 0xde:
	case 0xdf:
		if (read_be(s, 2u << (b - 0xde), &n) != 0)
			return -1;
		return scan_map(s, n);
	default: /* 0xc1, never used */
		return fail(s, "invalid byte 0xc1 at byte %zu", offset(s) - 1);
	}
}

cb_err cbp_prescan(const void *buf, size_t len, const cb_limits *lim, size_t *zone_bytes,
                   cb_decode_error *err)
{
	size_t max = (lim != NULL && lim->max_bytes != 0) ? lim->max_bytes : CB_MAX_BYTES_DEFAULT;
	scan s = {.base = buf, .p = buf, .end = (const uint8_t *)buf + len, .err = err};

	if (len == 0) {
		fail(&s, "empty message");
		return CB_EBAD_REQUEST;
	}
	if (len > max) {
		fail(&s, "%zu bytes exceeds the %zu-byte limit", len, max);
		return CB_EBAD_REQUEST;
	}
	if (strcmp(cbp_msgpack_type_of_byte(s.p[0]), "map") != 0) {
		fail(&s, "expected map, got %s", cbp_msgpack_type_of_byte(s.p[0]));
		return CB_EBAD_REQUEST;
	}
	if (scan_value(&s) != 0)
		return CB_EBAD_REQUEST;
	if (s.p != s.end) {
		fail(&s, "%zu trailing bytes after the message", left(&s));
		return CB_EBAD_REQUEST;
	}
	*zone_bytes = s.zone;
	return CB_OK;
}
