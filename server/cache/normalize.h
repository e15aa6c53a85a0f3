/* normalize.h: the normal form of call text that dedup (and the cache) key on. */
#ifndef CB_NORMALIZE_H
#define CB_NORMALIZE_H

#include <stddef.h>

/*
 * The version of the key format (batcher_group_key writes it first). Bump it
 * whenever normalize_text's output changes for some input: keys of another
 * version are never equal to this one's, so rows the cache stored under an
 * older normal form simply miss (and are asked upstream once again) instead
 * of being misread. 0x80 and up: never the cb_fn byte that led version 1 keys.
 */
#define NORMAL_KEY_VERSION 0x82

/*
 * Room normalize_text may need for len bytes of text: NFKC and case folding
 * can grow a string (U+FDFA alone becomes 33 bytes), so the normal form is
 * capped at four times the input, and text that would grow beyond that is
 * keyed verbatim instead (NORMAL_RAW_MARK then its bytes).
 */
#define NORMAL_MAX(len) (4 * (len) + 1)
/* Leads a key of text kept verbatim: 0xff never occurs in UTF-8, so never in a normal form. */
#define NORMAL_RAW_MARK '\xff'

/* Strips leading and trailing whitespace; the result points into s. */
void trim(const char *s, size_t len, const char **out, size_t *out_len);

/*
 * Writes the normal form of s to out, which must hold NORMAL_MAX(len) bytes:
 * NFKC then full Unicode case folding (libunistring's u8_casefold, locale
 * independent: "ß" and "SS" both become "ss", "Ή" becomes "ή"), and runs of
 * whitespace (ASCII, and what NFKC maps to a space, such as U+00A0) collapse
 * to one space, none at either end. Invalid UTF-8, or a form that would not
 * fit, is written as NORMAL_RAW_MARK and the bytes of s. Returns the bytes
 * written. Pure and thread-safe; allocates only for text that outgrows out.
 */
size_t normalize_text(char *out, const char *s, size_t len);

#endif
