/* normalize.h: the normal form of call text that dedup (and the cache) key on. */
#ifndef CB_NORMALIZE_H
#define CB_NORMALIZE_H

#include <stddef.h>

/* Strips leading and trailing whitespace; the result points into s. */
void trim(const char *s, size_t len, const char **out, size_t *out_len);

/*
 * Writes the normal form of s (valid UTF-8) to out, which must hold len
 * bytes: whitespace runs collapse to one space, and letters are case-folded
 * (ASCII, Latin-1, Greek and Cyrillic capitals; other scripts are kept as
 * they are). Returns the bytes written.
 */
size_t normalize_text(char *out, const char *s, size_t len);

#endif
