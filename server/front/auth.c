/* auth.c: --auth-token-file's tokens and the constant-time check of a request's auth (auth.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "cbproto.h"

struct auth_tokens {
	size_t n;
	struct {
		char *s;
		size_t len;
	} tok[];
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Visits each token line of text; returns how many there were. */
static size_t each_token(const char *text, size_t len, auth_tokens *into)
{
	size_t n = 0, i = 0;

	while (i < len) {
		size_t b = i, e;
		while (i < len && text[i] != '\n')
			i++;
		e = i++;
		while (b < e && blank(text[b]))
			b++;
		while (e > b && blank(text[e - 1]))
			e--;
		if (b == e || text[b] == '#')
			continue;
		if (into != NULL) {
			into->tok[n].s = strndup(text + b, e - b);
			into->tok[n].len = e - b;
		}
		n++;
	}
	return n;
}

auth_tokens *auth_parse(const char *text, size_t len)
{
	size_t n = each_token(text, len, NULL);
	auth_tokens *t;

	if (n == 0 || (t = calloc(1, sizeof(*t) + n * sizeof(t->tok[0]))) == NULL)
		return NULL;
	t->n = n;
	each_token(text, len, t);
	for (size_t i = 0; i < n; i++) {
		if (t->tok[i].s == NULL || t->tok[i].len > CB_AUTH_MAX) {
			auth_free(t);
			return NULL;
		}
	}
	return t;
}

/* The whole of f, size bytes by fstat (at most 1 MiB: a token file, not a database); NULL on
 * error. One allocation, so that no copy of a token is left behind by a realloc. */
static char *slurp(FILE *f, size_t size, size_t *len)
{
	char *buf;

	if (size > (1u << 20) || (buf = malloc(size + 1)) == NULL)
		return NULL;
	*len = fread(buf, 1, size + 1, f);
	if (ferror(f) || *len > size) {
		explicit_bzero(buf, size + 1);
		free(buf);
		return NULL;
	}
	return buf;
}

int auth_load(const char *path, auth_tokens **out, bool *open_to_others, char *why, size_t cap)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rv = -1;

	if (f == NULL || fstat(fileno(f), &st) != 0) {
		snprintf(why, cap, "%s", strerror(errno));
		goto out;
	}
	*open_to_others = (st.st_mode & 077) != 0;
	if ((text = slurp(f, (size_t)st.st_size, &len)) == NULL) {
		snprintf(why, cap, "cannot be read (or is over 1 MiB)");
		goto out;
	}
	/* the tokens are secrets: the buffer is wiped before it goes back to the heap */
	if ((*out = auth_parse(text, len)) == NULL) {
		snprintf(why, cap,
		         "holds no token (one a line, 1 to %d bytes; '#' starts a comment)",
		         CB_AUTH_MAX);
		goto out;
	}
	rv = 0;
out:
	if (text != NULL)
		explicit_bzero(text, len);
	free(text);
	if (f != NULL)
		fclose(f);
	return rv;
}

/* Equal bytes and length, in time that depends on len only. */
static unsigned differs(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned d = alen != blen;

	for (size_t i = 0; i < blen; i++)
		d |= (unsigned char)(a[i % (alen ? alen : 1)] ^ b[i]) | (alen == 0);
	return d != 0;
}

bool auth_check(const auth_tokens *t, const char *tok, size_t len)
{
	unsigned ok = 0;

	if (t == NULL || len == 0)
		return false;
	/* every token is compared, the matching one or not */
	for (size_t i = 0; i < t->n; i++)
		ok |= !differs(t->tok[i].s, t->tok[i].len, tok, len);
	return ok != 0;
}

size_t auth_count(const auth_tokens *t)
{
	return t != NULL ? t->n : 0;
}

void auth_free(auth_tokens *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->tok[i].s != NULL)
			explicit_bzero(t->tok[i].s, t->tok[i].len);
		free(t->tok[i].s);
	}
	free(t);
}
