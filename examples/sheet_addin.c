/* sheet_addin.c: how a spreadsheet add-in wires its async UDF to cb_call_async — recalculates every
 * =GEOCODE()/=REVERSE() cell of a CSV sheet at once. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cellbatch.h>

#include "csv.h"

/*
 * A sheet is a grid of cells; a cell holding "=GEOCODE(A2)" or
 * "=REVERSE(C2,D2)" is a formula over other cells. A spreadsheet's async
 * recalculation starts every such cell at once and shows "#PENDING" until
 * its callback delivers the value; that is exactly the shape of
 * cb_call_async, and it is what lets the server batch a whole sheet.
 */
typedef struct cell {
	char *text; /* literal or formula; replaced by the value */
} cell;

typedef struct sheet {
	cell **rows;
	size_t nrows, *ncols;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t pending;
} sheet;

typedef struct pending_cell {
	sheet *sh;
	cell *target;
	cb_fn fn;
} pending_cell;

/* "B12" -> row 11, column 1. */
static int parse_ref(const char *s, size_t *row, size_t *col, const char **end)
{
	size_t c = 0, r = 0;
	if (!isupper((unsigned char)*s))
		return -1;
	while (isupper((unsigned char)*s))
		c = c * 26 + (size_t)(*s++ - 'A' + 1);
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s))
		r = r * 10 + (size_t)(*s++ - '0');
	*row = r - 1;
	*col = c - 1;
	*end = s;
	return 0;
}

static const char *ref_value(sheet *sh, const char **p)
{
	size_t r, c;
	while (**p == ' ' || **p == ',')
		(*p)++;
	if (parse_ref(*p, &r, &c, p) != 0 || r >= sh->nrows || c >= sh->ncols[r])
		return NULL;
	return sh->rows[r][c].text;
}

/* The UDF's completion: runs on a library thread, so it only stores the value. */
static void cell_done_cb(void *user, const cb_result *res)
{
	pending_cell *pc = user;
	sheet *sh = pc->sh;
	char buf[1200];

	if (res->err != CB_OK)
		snprintf(buf, sizeof(buf), "#%s",
		         cb_err_name(res->err) ? cb_err_name(res->err) : "ERROR");
	else if (pc->fn == CB_FN_GEOCODE)
		snprintf(buf, sizeof(buf), "%.6f, %.6f", res->lat, res->lon);
	else
		snprintf(buf, sizeof(buf), "%s", res->formatted);
	pthread_mutex_lock(&sh->mu);
	free(pc->target->text);
	pc->target->text = strdup(buf);
	if (--sh->pending == 0)
		pthread_cond_signal(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	free(pc);
}

/*
 * Starts one formula cell; the cell shows #PENDING until its callback
 * fires. Called with sh->mu held: a formula may read a cell that another
 * formula's callback is replacing.
 */
static void start_cell(sheet *sh, cb_client *c, cell *target)
{
	const char *p = target->text;
	cb_call call = CB_CALL_INIT();
	pending_cell *pc;
	const char *a, *b = NULL;

	if (strncmp(p, "=GEOCODE(", 9) == 0) {
		p += 9;
		call.fn = CB_FN_GEOCODE;
		if ((a = ref_value(sh, &p)) == NULL)
			goto bad;
		call.text = a;
	} else if (strncmp(p, "=REVERSE(", 9) == 0) {
		p += 9;
		call.fn = CB_FN_REVERSE;
		if ((a = ref_value(sh, &p)) == NULL || (b = ref_value(sh, &p)) == NULL)
			goto bad;
		call.lat = atof(a);
		call.lon = atof(b);
	} else {
		return; /* a literal */
	}
	if ((pc = malloc(sizeof(*pc))) == NULL)
		goto bad;
	*pc = (pending_cell){sh, target, call.fn};
	sh->pending++;
	if (cb_call_async(c, &call, cell_done_cb, pc) == CB_OK)
		return; /* the callback owns pc now */
	free(pc);
	sh->pending--;
bad:
	free(target->text);
	target->text = strdup("#REF!");
}

int main(int argc, char **argv)
{
	sheet sh = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	csv_record rec = {0};
	cb_client *c;
	FILE *f;
	cb_err rv;

	if (argc != 2 || (f = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "usage: %s SHEET.csv   (server: $CELLBATCH_URL)\n", argv[0]);
		return 2;
	}
	while (csv_read(f, &rec) == 1) {
		sh.rows = realloc(sh.rows, (sh.nrows + 1) * sizeof(*sh.rows));
		sh.ncols = realloc(sh.ncols, (sh.nrows + 1) * sizeof(*sh.ncols));
		sh.rows[sh.nrows] = calloc(rec.n, sizeof(cell));
		for (size_t i = 0; i < rec.n; i++)
			sh.rows[sh.nrows][i].text = strdup(rec.fields[i]);
		sh.ncols[sh.nrows++] = rec.n;
	}
	csv_record_free(&rec);
	fclose(f);
	if ((rv = cb_client_open(&c, NULL, NULL)) != CB_OK) {
		fprintf(stderr, "cannot reach cellbatchd: %s\n", cb_strerror(rv));
		return 3;
	}

	/* recalculate: every formula starts at once, as an async recalculation does */
	pthread_mutex_lock(&sh.mu);
	for (size_t r = 0; r < sh.nrows; r++)
		for (size_t col = 0; col < sh.ncols[r]; col++)
			start_cell(&sh, c, &sh.rows[r][col]);
	while (sh.pending > 0)
		pthread_cond_wait(&sh.cv, &sh.mu);
	pthread_mutex_unlock(&sh.mu);
	cb_client_close(c);

	for (size_t r = 0; r < sh.nrows; r++) {
		for (size_t col = 0; col < sh.ncols[r]; col++) {
			if (col)
				putchar(',');
			csv_write_field(stdout, sh.rows[r][col].text);
			free(sh.rows[r][col].text);
		}
		putchar('\n');
		free(sh.rows[r]);
	}
	free(sh.rows);
	free(sh.ncols);
	return 0;
}
