/* client_int.h: libcellbatch's own structs — a client and its outstanding calls — shared by
 * client.c (calls), sync.c (blocking calls) and control.c (ping, stats); private to client/. */
#ifndef CB_CLIENT_INT_H
#define CB_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nng/nng.h>

#include "cbproto.h"
#include "cellbatch.h"

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_RETRIES    3
#define REPLY_MAX          (16u << 20)

typedef enum pend_stage {
	P_SENDING,   /* nng_ctx_send outstanding */
	P_RECEIVING, /* nng_ctx_recv outstanding */
} pend_stage;

/* One outstanding call: owns its context, aio and encoded request (kept for resends). */
typedef struct pend {
	cb_client *c;
	nng_ctx ctx;
	nng_aio *aio;
	pend_stage stage;
	void *req;
	size_t req_len;
	nng_time deadline;
	unsigned timeout_ms;
	unsigned resends;
	bool lost;              /* the connection dropped at least once */
	size_t n;               /* calls in the message: 1, or a multi's count */
	cb_done_fn done;        /* a single call */
	cb_multi_done_fn mdone; /* a multi call */
	cb_result *errs;        /* multi: n results kept for failures, so failing never allocates */
	void *user;
	struct pend *prev, *next;
} pend;

struct cb_client {
	nng_socket sock;
	nng_mtx *mu;
	nng_cv *cv;
	unsigned timeout_ms, retries;
	uint64_t next_id;
	char *token; /* sent as auth with every request; NULL: none. Owned, wiped when freed */
	size_t outstanding;
	bool closing;
	pend *head;
};

/*
 * dialall.c: url may list several servers, separated by commas. check: 0 when
 * every one is a URL whose directory may be trusted (cbp_rundir_check), else
 * -1. dial: dials each on sock (a server down among several is redialled in
 * the background); 0 when at least one answered, else nng's error.
 */
int client_urls_check(const char *urls);
/* The servers when none is given: $CELLBATCH_URL (several as given), else the default socket. */
const char *client_default_urls(char *buf, size_t cap);
int client_dial_all(nng_socket sock, const char *urls, unsigned timeout_ms);

/*
 * c->token from opts->token, else $CELLBATCH_TOKEN, trailing blanks and line
 * ends trimmed ("" or unset: none). CB_OK, CB_EINVAL when over CB_AUTH_MAX
 * bytes, CB_ENOMEM.
 */
cb_err client_token(cb_client *c, const cb_client_options *opts);

/* Sets req's auth to c's token, if it has one (req borrows it). */
static inline void client_auth(const cb_client *c, cb_request *req)
{
	if (c->token != NULL) {
		req->has_auth = true;
		req->auth = (cb_str){c->token, (uint32_t)strlen(c->token)};
	}
}

#endif
