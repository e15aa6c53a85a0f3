/* geocode_sheet_raw.c: geocodes a CSV's first column concurrently by speaking protocol v1 over nng
 * directly (the batch stats are `cellbatch stats`'s to show). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cbproto.h"

#define MAX_ROWS 10000

/* The first field of a CSV line, unquoted ("" is a quote). Returns a new string. */
static char *first_field(const char *line)
{
	char *out = malloc(strlen(line) + 1), *w = out;
	const char *p = line;

	if (*p == '"') {
		for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
			if (*p == '"')
				p++;
			*w++ = *p;
		}
	} else {
		while (*p && *p != ',' && *p != '\n' && *p != '\r')
			*w++ = *p++;
	}
	*w = '\0';
	return out;
}

static nng_msg *encode(const cb_request *req)
{
	msgpack_sbuffer b;
	msgpack_packer pk;
	nng_msg *m = NULL;

	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, req) == CB_OK && nng_msg_alloc(&m, b.size) == 0)
		memcpy(nng_msg_body(m), b.data, b.size);
	msgpack_sbuffer_destroy(&b);
	return m;
}

int main(int argc, char **argv)
{
	char url[512], line[4096];
	char *rows[MAX_ROWS];
	nng_ctx ctx[MAX_ROWS];
	nng_aio *aio[MAX_ROWS];
	size_t n = 0, ok = 0;
	nng_socket s;
	FILE *f;
	int rv;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SHEET.csv [URL]\n", argv[0]);
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	if (fgets(line, sizeof(line), f) == NULL) /* header */
		line[0] = '\0';
	while (n < MAX_ROWS && fgets(line, sizeof(line), f) != NULL)
		if (line[0] != '\n')
			rows[n++] = first_field(line);
	fclose(f);
	if (argc > 2)
		cbp_url_normalize(argv[2], url, sizeof(url));
	else
		cbp_default_url(url, sizeof(url));

	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "cannot reach %s: %s\n", url, nng_strerror(rv));
		return 3;
	}
	/* every cell at once, as a spreadsheet recalculation does */
	for (size_t i = 0; i < n; i++) {
		cb_request req = {.op = CB_OP_CALL, .has_id = true, .id = i};
		req.call.fn = CB_FN_GEOCODE;
		req.call.text = (cb_str){rows[i], (uint32_t)strlen(rows[i])};
		nng_ctx_open(&ctx[i], s);
		nng_aio_alloc(&aio[i], NULL, NULL);
		nng_aio_set_timeout(aio[i], 30000);
		nng_aio_set_msg(aio[i], encode(&req));
		nng_ctx_send(ctx[i], aio[i]);
	}
	for (size_t i = 0; i < n; i++) {
		nng_aio_wait(aio[i]);
		if (nng_aio_result(aio[i]) == 0)
			nng_ctx_recv(ctx[i], aio[i]);
	}
	printf("%-52s %10s %11s  %s\n", "address", "lat", "lon", "result");
	for (size_t i = 0; i < n; i++) {
		cb_decode_error err;
		cb_reply rep;
		nng_msg *m;

		nng_aio_wait(aio[i]);
		if ((rv = nng_aio_result(aio[i])) != 0) {
			printf("%-52.52s %10s %11s  %s\n", rows[i], "", "", nng_strerror(rv));
			continue;
		}
		m = nng_aio_get_msg(aio[i]);
		if (cbp_reply_decode(nng_msg_body(m), nng_msg_len(m), NULL, &rep, &err) != CB_OK)
			printf("%-52.52s  bad reply: %s\n", rows[i], err.message);
		else if (rep.err != CB_OK)
			printf("%-52.52s %10s %11s  %s: %.*s\n", rows[i], "", "",
			       cb_err_name(rep.err), (int)rep.message.len, rep.message.ptr);
		else {
			char how[40];
			ok++;
			if (rep.meta.cached)
				snprintf(how, sizeof(how), "from the cache");
			else
				snprintf(how, sizeof(how), "batch of %llu",
				         (unsigned long long)rep.meta.batch_size);
			printf("%-52.52s %10.5f %11.5f  %.*s (%s)\n", rows[i], rep.result.lat,
			       rep.result.lon, (int)rep.result.formatted.len,
			       rep.result.formatted.ptr, how);
		}
		if (rv == 0)
			cbp_reply_free(&rep);
		nng_msg_free(m);
		nng_aio_free(aio[i]);
		nng_ctx_close(ctx[i]);
		free(rows[i]);
	}
	printf("%zu of %zu cells answered with a location\n", ok, n);

	nng_close(s);
	return ok == n ? 0 : 1;
}
