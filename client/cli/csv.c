/* csv.c: RFC 4180 records — quoted fields with commas, quotes and newlines — read and written. */
#include <stdlib.h>
#include <string.h>

#include "csv.h"

typedef struct buf {
	char *p;
	size_t n, cap;
} buf;

static int put(buf *b, char c)
{
	if (b->n + 1 >= b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	b->p[b->n++] = c;
	b->p[b->n] = '\0';
	return 0;
}

static int end_field(csv_record *rec, buf *b)
{
	char **f = realloc(rec->fields, (rec->n + 1) * sizeof(*f));
	if (f == NULL)
		return -1;
	rec->fields = f;
	rec->fields[rec->n++] = b->p != NULL ? b->p : strdup("");
	*b = (buf){0};
	return rec->fields[rec->n - 1] != NULL ? 0 : -1;
}

void csv_record_free(csv_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		free(rec->fields[i]);
	free(rec->fields);
	rec->fields = NULL;
	rec->n = 0;
}

int csv_read(FILE *f, csv_record *rec)
{
	buf b = {0};
	int c, quoted = 0, any = 0;

	csv_record_free(rec);
	while ((c = getc(f)) != EOF) {
		any = 1;
		if (quoted) {
			if (c != '"') {
				if (put(&b, (char)c) != 0)
					goto fail;
				continue;
			}
			c = getc(f);
			if (c == '"') { /* "" inside quotes is one quote */
				if (put(&b, '"') != 0)
					goto fail;
				continue;
			}
			quoted = 0;
			if (c == EOF)
				break;
		}
		if (c == '"' && b.n == 0) {
			quoted = 1;
		} else if (c == ',') {
			if (end_field(rec, &b) != 0)
				goto fail;
		} else if (c == '\n' || c == '\r') {
			if (c == '\r' && (c = getc(f)) != '\n' && c != EOF)
				ungetc(c, f);
			return end_field(rec, &b) == 0 ? 1 : -1;
		} else if (put(&b, (char)c) != 0) {
			goto fail;
		}
	}
	if (ferror(f))
		goto fail;
	if (!any)
		return 0;
	return end_field(rec, &b) == 0 ? 1 : -1;
fail:
	free(b.p);
	return -1;
}

void csv_write_field(FILE *f, const char *s)
{
	size_t n = strlen(s);

	if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', f);
		putc(*s, f);
	}
	putc('"', f);
}
