/* auth.h: the tokens of --auth-token-file — loaded once at start, read by every thread that
 * admits a request (the loop and the hot path); never logged. */
#ifndef CB_AUTH_H
#define CB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct auth_tokens auth_tokens;

/*
 * Reads FILE: one token per line, surrounding blanks trimmed; blank lines
 * and lines starting with '#' ignored. 0 with *out owned by the caller
 * (auth_free); -1 with why filled when the file cannot be read, holds no
 * token, or a token is longer than the protocol allows. A file that group
 * or others may read loads, and *open_to_others says so (the caller warns).
 */
int auth_load(const char *path, auth_tokens **out, bool *open_to_others, char *why, size_t cap);

/* The tokens from text (the file's contents, parsed as auth_load does); NULL without one. */
auth_tokens *auth_parse(const char *text, size_t len);

/*
 * Whether tok[0..len) is one of the tokens. Its time depends on len and the
 * number of tokens only, never on where a guess first differs. Any thread.
 */
bool auth_check(const auth_tokens *t, const char *tok, size_t len);

size_t auth_count(const auth_tokens *t);
void auth_free(auth_tokens *t);

#endif
