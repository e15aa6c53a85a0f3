/* normalize.c: the normal form of call text that dedup (and the cache) key on. */
#include <stdint.h>

#include "normalize.h"

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void trim(const char *s, size_t len, const char **out, size_t *out_len)
{
	while (len > 0 && is_space((unsigned char)s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space((unsigned char)s[len - 1]))
		len--;
	*out = s;
	*out_len = len;
}

/* Lower case of a two-byte code point, or cp itself. */
static uint32_t fold2(uint32_t cp)
{
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||    /* Latin-1 capitals */
	    (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) || /* Greek capitals */
	    (cp >= 0x410 && cp <= 0x42f))                  /* Cyrillic А-Я */
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f) /* Cyrillic Ѐ-Џ */
		return cp + 0x50;
	return cp;
}

size_t normalize_text(char *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	int space = 0;

	while (i < len) {
		unsigned char c = p[i];
		if (is_space(c)) {
			space = 1;
			i++;
			continue;
		}
		if (space && n > 0)
			out[n++] = ' ';
		space = 0;
		if (c < 0x80) {
			out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			i++;
		} else if ((c & 0xe0) == 0xc0 && i + 1 < len) {
			/* folding stays inside the two-byte range, so the length is kept */
			uint32_t cp = fold2(((uint32_t)(c & 0x1f) << 6) | (p[i + 1] & 0x3f));
			out[n++] = (char)(0xc0 | (cp >> 6));
			out[n++] = (char)(0x80 | (cp & 0x3f));
			i += 2;
		} else {
			out[n++] = (char)c;
			i++;
		}
	}
	return n;
}
