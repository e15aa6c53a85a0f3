/* csv.c: RFC 4180 records — quoted fields with delimiters, quotes and newlines — read strictly
 * (malformed input is an error with its line) and written. */
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

/* The rest of a quoted field, through its closing quote: 0, -1 (read/memory), -2 (unclosed). */
static int read_quoted(csv_reader *r, buf *b)
{
	int c;

	while ((c = getc(r->f)) != EOF) {
		if (c == '\n')
			r->line++;
		if (c != '"') {
			if (put(b, (char)c) != 0)
				return -1;
			continue;
		}
		if ((c = getc(r->f)) != '"') { /* "" inside quotes is one quote */
			if (c != EOF)
				ungetc(c, r->f);
			return 0;
		}
		if (put(b, '"') != 0)
			return -1;
	}
	if (ferror(r->f))
		return -1;
	r->err = "unterminated quoted field";
	return -2;
}

/* A line end at c (CR, LF or CRLF) is consumed; 1 when c was one. */
static int line_end(csv_reader *r, int c)
{
	if (c != '\n' && c != '\r')
		return 0;
	if (c == '\r' && (c = getc(r->f)) != '\n' && c != EOF)
		ungetc(c, r->f);
	r->line++;
	return 1;
}

static int fail(csv_reader *r, buf *b, const char *why, int rv)
{
	if (why != NULL)
		r->err = why;
	free(b->p);
	return rv;
}

int csv_next(csv_reader *r, csv_record *rec)
{
	buf b = {0};
	int c, any = 0, closed = 0, rv;

	csv_record_free(rec);
	r->err_line = r->line + 1;
	while ((c = getc(r->f)) != EOF) {
		any = 1;
		if (c == r->delim || line_end(r, c)) {
			if (end_field(rec, &b) != 0)
				return fail(r, &b, NULL, -1);
			if (c != r->delim)
				return 1;
			closed = 0;
			r->err_line = r->line + 1;
		} else if (closed) {
			return fail(r, &b, "text after a closing quote", -2);
		} else if (c == '"' && b.n == 0) {
			r->err_line = r->line + 1;
			if ((rv = read_quoted(r, &b)) != 0)
				return fail(r, &b, NULL, rv);
			closed = 1;
		} else if (c == '"') {
			return fail(r, &b, "quote inside an unquoted field", -2);
		} else if (put(&b, (char)c) != 0) {
			return fail(r, &b, NULL, -1);
		}
	}
	if (ferror(r->f))
		return fail(r, &b, NULL, -1);
	if (!any)
		return 0;
	return end_field(rec, &b) == 0 ? 1 : -1;
}

int csv_read(FILE *f, csv_record *rec)
{
	csv_reader r = {.f = f, .delim = ','};
	int rv = csv_next(&r, rec);

	return rv < 0 ? -1 : rv;
}

char csv_sniff(const char *line, size_t len)
{
	static const char cand[] = {',', ';', '\t'};
	size_t count[3] = {0}, best = 0;
	int quoted = 0;

	for (size_t i = 0; i < len && (quoted || (line[i] != '\n' && line[i] != '\r')); i++) {
		if (line[i] == '"')
			quoted = !quoted;
		for (size_t k = 0; k < 3 && !quoted; k++)
			count[k] += line[i] == cand[k];
	}
	for (size_t k = 1; k < 3; k++)
		if (count[k] > count[best])
			best = k;
	return cand[best];
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
