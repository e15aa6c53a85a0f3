/* csv.h: RFC 4180 records — quoted fields with commas, quotes and newlines — read and written. */
#ifndef CB_CSV_H
#define CB_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct csv_record {
	char **fields; /* owned, NUL-terminated */
	size_t n;
} csv_record;

/*
 * Reads one record from f into rec (previous contents are freed). Returns 1
 * for a record, 0 at end of file, -1 on a read or memory error. A final
 * line without a newline is a record; "\r\n" and "\n" both end one.
 */
int csv_read(FILE *f, csv_record *rec);
void csv_record_free(csv_record *rec);

/* Writes one field, quoted when it holds a comma, quote, CR or LF (or leading/trailing space). */
void csv_write_field(FILE *f, const char *s);

#endif
