/* rows.c: the rows of a lookup run — from the arguments or a file (a column of a CSV, or one
 * text per line) — and the header line of the output. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cellbatch.h"
#include "csv.h"
#include "cli.h"

static bool parse_latlon(const char *s, double *lat, double *lon)
{
	char *end;
	*lat = strtod(s, &end);
	if (end == s || (*end != ',' && *end != ' '))
		return false;
	s = end + 1;
	*lon = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*lat) && isfinite(*lon);
}

/* Appends a row of one field (taken) or of rec (taken); 0, or -1 without memory. */
static int add_row(run *rn, size_t *cap, csv_record *rec)
{
	if (rn->nrows == *cap) {
		size_t n = *cap ? *cap * 2 : 1024;
		row *p = realloc(rn->rows, n * sizeof(row));
		if (p == NULL)
			return -1;
		rn->rows = p;
		*cap = n;
	}
	memset(&rn->rows[rn->nrows], 0, sizeof(row));
	rn->rows[rn->nrows++].in = *rec;
	*rec = (csv_record){0};
	return 0;
}

static int one_field(csv_record *rec, char *s)
{
	rec->fields = malloc(sizeof(char *));
	if (rec->fields == NULL || s == NULL) {
		free(rec->fields);
		free(s);
		return -1;
	}
	rec->fields[0] = s;
	rec->n = 1;
	return 0;
}

/*
 * The whole of path ("-": stdin) in memory, a UTF-8 BOM (what Excel writes
 * for "CSV UTF-8") dropped: the delimiter is sniffed from the first line
 * before anything is parsed, which a pipe could not give back. Only regular
 * files and stdin: a directory or a device is a mistake, not an empty input.
 */
static int slurp(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct stat st = {0};
	size_t cap = 0, n = 0, got;
	char *buf = NULL;
	int rv = EXIT_USAGE;

	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", cli_prog, path, strerror(errno));
		return EXIT_USAGE;
	}
	if (f != stdin && (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))) {
		fprintf(stderr, "%s: %s: %s\n", cli_prog, path,
		        S_ISDIR(st.st_mode) ? "is a directory, not a file"
		                            : "not a regular file (use -f - to read a pipe)");
		goto out;
	}
	do {
		char *p = cap - n < 4096 ? realloc(buf, cap = cap * 2 + 65536) : buf;
		if (p == NULL)
			goto out;
		buf = p;
		n += got = fread(buf + n, 1, cap - n, f);
	} while (got > 0);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: %s\n", cli_prog, path, strerror(errno));
		goto out;
	}
	if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		memmove(buf, buf + 3, n -= 3);
	*out = buf;
	*len = n;
	buf = NULL;
	rv = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rv;
}

/* The header's column named name, ASCII case aside; or says which there are and returns -1. */
static long find_column(const csv_record *h, const char *name, const char *path)
{
	for (size_t c = 0; c < h->n; c++)
		if (strcasecmp(h->fields[c], name) == 0)
			return (long)c;
	fprintf(stderr, "%s: %s: no column named '%s'; its columns are:", cli_prog, path, name);
	for (size_t c = 0; c < h->n; c++)
		fprintf(stderr, "%s '%s'", c ? "," : "", h->fields[c]);
	fputc('\n', stderr);
	return -1;
}

static int malformed(const csv_reader *r, const char *path)
{
	fprintf(stderr, "%s: %s:%lu: %s\n", cli_prog, path, r->err_line, r->err);
	return EXIT_USAGE;
}

/* Reverse rows: every field of a record joined into "LAT,LON", the one input column (query). */
static int join_query(csv_record *rec)
{
	char buf[256];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rec->n && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "",
		                      rec->fields[i]);
	csv_record_free(rec);
	return one_field(rec, strdup(buf));
}

/*
 * A record wider than the header: empty trailing fields (a spreadsheet's
 * trailing delimiters) are dropped; anything else is malformed (-2), as its
 * values would land under no column. 1 when rec fits.
 */
static int fit_header(const run *rn, csv_reader *r, csv_record *rec)
{
	while (rec->n > rn->in_cols && rec->fields[rec->n - 1][0] == '\0')
		free(rec->fields[--rec->n]);
	if (rec->n <= rn->in_cols)
		return 1;
	r->err = "more fields than the header has";
	r->err_line = r->line; /* the record's last line */
	return -2;
}

/* Records of f as rows: the column's header first when asked for; 0, or an exit code. */
static int read_csv(run *rn, const lookup_opts *lo, csv_reader *r, long *col)
{
	csv_record rec = {0};
	size_t cap = 0;
	int rv;

	if (lo->column != NULL) {
		if ((rv = csv_next(r, &rec)) != 1) {
			csv_record_free(&rec);
			if (rv == -2)
				return malformed(r, lo->file);
			fprintf(stderr, "%s: %s: no header line\n", cli_prog, lo->file);
			return EXIT_USAGE;
		}
		if ((*col = find_column(&rec, lo->column, lo->file)) < 0) {
			csv_record_free(&rec);
			return EXIT_USAGE;
		}
		rn->in_header = (const char *const *)rec.fields;
		rn->in_cols = rec.n;
		rec = (csv_record){0};
	}
	while ((rv = csv_next(r, &rec)) == 1) {
		if (rec.n == 1 && rec.fields[0][0] == '\0')
			continue; /* a blank line */
		if (rn->in_header != NULL && (rv = fit_header(rn, r, &rec)) != 1)
			break;
		if ((rn->reverse && join_query(&rec) != 0) || add_row(rn, &cap, &rec) != 0)
			rv = -1;
		if (rv < 0)
			break;
	}
	csv_record_free(&rec);
	if (rv == -2)
		return malformed(r, lo->file);
	return rv < 0 ? EXIT_SOME_FAILED : 0;
}

/* A plain line is one address, delimiters and quotes included. */
static int read_plain(run *rn, FILE *f)
{
	csv_record rec = {0};
	size_t cap = 0, n = 0;
	char *line = NULL;
	ssize_t got;
	int rv = 0;

	while (rv == 0 && (got = getline(&line, &n, f)) >= 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (got == 0)
			continue;
		if (one_field(&rec, strdup(line)) != 0 || add_row(rn, &cap, &rec) != 0)
			rv = EXIT_SOME_FAILED;
	}
	free(line);
	return rv;
}

static int load_file(run *rn, const lookup_opts *lo, long *col)
{
	char *buf = NULL;
	size_t len = 0;
	csv_reader r = {0};
	int rv;

	if ((rv = slurp(lo->file, &buf, &len)) != 0 || len == 0)
		goto out;
	if ((r.f = fmemopen(buf, len, "r")) == NULL) {
		rv = EXIT_SOME_FAILED;
		goto out;
	}
	r.delim = lo->delim ? lo->delim : csv_sniff(buf, len);
	if (lo->column != NULL || rn->reverse)
		rv = read_csv(rn, lo, &r, col);
	else
		rv = read_plain(rn, r.f);
	fclose(r.f);
out:
	free(buf);
	return rv;
}

/* Fills rn->rows from arguments or a file. Returns 0, or an exit code. */
int load_rows(run *rn, const lookup_opts *lo, int argc, char **argv)
{
	size_t cap = 0;
	long col = 0;
	int rv;

	if (lo->file != NULL && (rv = load_file(rn, lo, &col)) != 0)
		return rv;
	for (int i = 0; lo->file == NULL && i < argc; i++) {
		csv_record rec = {0};
		if (one_field(&rec, strdup(argv[i])) != 0 || add_row(rn, &cap, &rec) != 0)
			return EXIT_SOME_FAILED;
	}
	for (size_t i = 0; i < rn->nrows; i++) {
		row *r = &rn->rows[i];
		if (!rn->reverse) {
			r->text = (size_t)col < r->in.n ? r->in.fields[col] : "";
			r->bad_input = r->text[0] == '\0';
		} else {
			r->bad_input = !parse_latlon(r->in.fields[0], &r->lat, &r->lon);
		}
	}
	return 0;
}

/* The output's columns after the input's: CSV rows and JSON objects carry these, in this order. */
const char *const out_cols[6] = {"lat", "lon", "formatted", "confidence", "status", "error"};

void print_header(run *rn)
{
	if (rn->json)
		return;
	if (rn->in_header != NULL) {
		for (size_t c = 0; c < rn->in_cols; c++) {
			csv_write_field(stdout, rn->in_header[c]);
			fputc(',', stdout);
		}
	} else {
		fputs(rn->reverse ? "query," : "address,", stdout);
	}
	for (size_t c = 0; c < sizeof(out_cols) / sizeof(out_cols[0]); c++)
		printf("%s%s", out_cols[c],
		       c + 1 < sizeof(out_cols) / sizeof(out_cols[0]) ? "," : "\n");
}
