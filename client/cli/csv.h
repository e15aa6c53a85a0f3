/* csv.h: RFC 4180 records — quoted fields with delimiters, quotes and newlines — read strictly
 * (malformed input is an error with its line) and written. */
#ifndef CB_CSV_H
#define CB_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct csv_record {
	char **fields; /* owned, NUL-terminated */
	size_t n;
} csv_record;

/* Where a reader stands in its stream; zero it, then set f and delim. */
typedef struct csv_reader {
	FILE *f;                /* borrowed */
	char delim;             /* ',' ';' or '\t' */
	unsigned long line;     /* lines consumed so far (a record's first line is line + 1) */
	unsigned long err_line; /* for -2: the line where the malformed field began */
	const char *err;        /* for -2: what is wrong (a static string) */
} csv_reader;

/*
 * Reads one record from r into rec (previous contents are freed). Returns 1
 * for a record, 0 at end of input, -1 on a read or memory error, -2 for
 * malformed input (r->err and r->err_line say what and where): a quote
 * that is never closed, a quote inside an unquoted field, or anything but a
 * delimiter or line end after a closing quote. A final line without a
 * newline is a record; "\r\n" and "\n" both end one.
 */
int csv_next(csv_reader *r, csv_record *rec);
/* csv_next with ',' and no line numbers: 1, 0, or -1 for any failure. */
int csv_read(FILE *f, csv_record *rec);
void csv_record_free(csv_record *rec);

/* The delimiter of a first line (',' ';' or tab, whichever occurs most outside quotes; ','). */
char csv_sniff(const char *line, size_t len);

/* Writes one field, quoted when it holds a comma, quote, CR or LF (or leading/trailing space). */
void csv_write_field(FILE *f, const char *s);

#endif
