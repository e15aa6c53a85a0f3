/* rows.c: the rows of a lookup run — from the arguments or a file (a column of a CSV, or one
 * text per line) — and the header line of the output. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

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

/* Fills rn->rows from arguments or a file. Returns 0, or an exit code. */
int load_rows(run *rn, const lookup_opts *lo, int argc, char **argv)
{
	FILE *f = NULL;
	csv_record rec = {0};
	size_t cap = 0, col = 0;
	int rv;

	if (lo->file == NULL) {
		rn->rows = calloc((size_t)argc + 1, sizeof(row));
		for (int i = 0; i < argc; i++) {
			row *r = &rn->rows[rn->nrows++];
			r->in.fields = malloc(sizeof(char *));
			r->in.fields[0] = strdup(argv[i]);
			r->in.n = 1;
		}
	} else {
		f = strcmp(lo->file, "-") == 0 ? stdin : fopen(lo->file, "r");
		if (f == NULL) {
			fprintf(stderr, "%s: %s: %s\n", cli_prog, lo->file, strerror(errno));
			return EXIT_USAGE;
		}
		if (lo->column != NULL) {
			if (csv_read(f, &rec) != 1) {
				fprintf(stderr, "%s: %s: no header line\n", cli_prog, lo->file);
				return EXIT_USAGE;
			}
			for (col = 0; col < rec.n && strcmp(rec.fields[col], lo->column) != 0;
			     col++)
				;
			if (col == rec.n) {
				fprintf(stderr, "%s: %s: no column named '%s'\n", cli_prog,
				        lo->file, lo->column);
				return EXIT_USAGE;
			}
			rn->in_header = (const char *const *)rec.fields;
			rn->in_cols = rec.n;
			rec = (csv_record){0};
		}
		for (;;) {
			row *r;
			if (lo->column != NULL || rn->reverse) {
				if ((rv = csv_read(f, &rec)) <= 0)
					break;
			} else {
				/* a plain line is one address, commas and quotes included */
				char *line = NULL;
				size_t n = 0;
				ssize_t got = getline(&line, &n, f);
				if (got < 0) {
					free(line);
					break;
				}
				while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
					line[--got] = '\0';
				rec.fields = malloc(sizeof(char *));
				rec.fields[0] = line;
				rec.n = 1;
			}
			if (rec.n == 1 && rec.fields[0][0] == '\0') {
				csv_record_free(&rec);
				continue; /* blank line */
			}
			if (rn->nrows == cap) {
				cap = cap ? cap * 2 : 1024;
				rn->rows = realloc(rn->rows, cap * sizeof(row));
			}
			r = &rn->rows[rn->nrows++];
			memset(r, 0, sizeof(*r));
			r->in = rec;
			rec = (csv_record){0};
		}
		if (f != stdin)
			fclose(f);
	}
	for (size_t i = 0; i < rn->nrows; i++) {
		row *r = &rn->rows[i];
		if (!rn->reverse) {
			r->text = col < r->in.n ? r->in.fields[col] : "";
			r->bad_input = r->text[0] == '\0';
		} else if (r->in.n == 2) {
			char buf[128];
			snprintf(buf, sizeof(buf), "%s,%s", r->in.fields[0], r->in.fields[1]);
			r->bad_input = !parse_latlon(buf, &r->lat, &r->lon);
		} else {
			r->bad_input = !parse_latlon(r->in.fields[0], &r->lat, &r->lon);
		}
	}
	return 0;
}

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
	fputs("lat,lon,formatted,confidence,status\n", stdout);
}
