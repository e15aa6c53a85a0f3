/* normalize.c: the normal form of call text that dedup (and the cache) key on. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

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

/* Collapses whitespace runs of buf[0..n) in place, none kept at either end; the new length. */
static size_t collapse(char *buf, size_t n)
{
	size_t w = 0;
	int space = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_space((unsigned char)buf[i])) {
			space = 1;
			continue;
		}
		if (space && w > 0)
			buf[w++] = ' ';
		space = 0;
		buf[w++] = buf[i];
	}
	return w;
}

static bool all_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * ASCII is its own NFKC, and full case folding maps only A-Z in it: the same
 * normal form as u8_casefold's at a hundredth of the cost (about 45 ns for an
 * address against 1.4-4.6 us), which matters on the hot path (front/hot.c
 * answers cache hits on nng's threads).
 */
static size_t ascii_normal(char *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	return collapse(out, len);
}

size_t normalize_text(char *out, const char *s, size_t len)
{
	size_t n = NORMAL_MAX(len);
	uint8_t *r;

	if (all_ascii(s, len))
		return ascii_normal(out, s, len);
	/* u8_casefold would turn invalid bytes into U+FFFD: distinct texts, one key */
	if (u8_check((const uint8_t *)s, len) != NULL)
		goto raw;
	/*
	 * Folding before the whitespace pass: NFKC turns NBSP, ideographic and
	 * other spaces into U+0020, which must collapse like any other.
	 * u8_casefold with UNINORM_NFKC decomposes, folds, then recomposes, so
	 * "e" + U+0301 and "é" meet, as do "Ή" and "ή".
	 */
	r = u8_casefold((const uint8_t *)s, len, NULL, UNINORM_NFKC, (uint8_t *)out, &n);
	if (r == (uint8_t *)out)
		return collapse(out, n);
	free(r); /* NULL (no memory), or grown beyond out */
raw:
	out[0] = NORMAL_RAW_MARK;
	memcpy(out + 1, s, len);
	return 1 + len;
}
