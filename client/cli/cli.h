/* cli.h: what the cellbatch command's files share — exit codes, global options, the rows of a
 * lookup run; private to client/cli/. */
#ifndef CB_CLI_H
#define CB_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cellbatch.h"
#include "csv.h"

enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

typedef struct global {
	const char *url;
	unsigned timeout_ms;
	const char *token_file; /* --token-file; NULL: $CELLBATCH_TOKEN (read by libcellbatch) */
} global;

/* The command's name, for messages. */
extern const char *const cli_prog;

typedef struct row {
	csv_record in; /* the input fields */
	const char *text;
	double lat, lon;
	bool bad_input;
	bool done;
	cb_err err;
	double rlat, rlon, conf;
	bool has_conf;
	char *formatted; /* or the error message */
} row;

typedef struct run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	row *rows;
	size_t nrows, issued, finished, in_flight, next_out;
	size_t failed, unreachable;
	size_t concurrency;
	bool json, header;
	const char *const *in_header; /* NULL: a single input column */
	size_t in_cols;
	bool reverse;
	bool progress;
	double t0;
} run;

typedef struct lookup_opts {
	cb_call proto; /* fn and options shared by every call */
	const char *file, *column;
	char delim; /* --delimiter; 0: sniffed from the file's first line */
	bool json, header;
	size_t concurrency;
} lookup_opts;

/*
 * addr.c: the full address the global options name (from says which source:
 * "--url", "$CELLBATCH_URL" or "the default"); 0, or EXIT_USAGE after saying
 * why when no server could listen there (a scheme nng does not dial).
 */
int cli_address(const global *g, char *buf, size_t cap, const char **from);

/* main.c: opens the client the global options ask for; 0, or the exit code to return. */
int open_client(const global *g, cb_client **cl);

/* lookup.c: seconds on the monotonic clock. */
double now_s(void);

/* lookup.c: geocode and reverse, one text or a file of them. */
void usage_lookup(FILE *f, bool reverse);
int cmd_lookup(const global *g, int argc, char **argv, bool reverse);

/* rows.c: the rows of a run from the arguments or the file, and the output's header line. */
int load_rows(run *rn, const lookup_opts *lo, int argc, char **argv);
void print_header(run *rn);
/* rows.c: the output's columns after the input's, in order (CSV header and JSON keys). */
extern const char *const out_cols[6];

#endif
