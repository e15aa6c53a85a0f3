/* client_int.h: libcellbatch's own structs — a client and its outstanding calls — shared by
 * client.c (calls), sync.c (blocking calls) and control.c (ping, stats); private to client/. */
#ifndef CB_CLIENT_INT_H
#define CB_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "cbproto.h"
#include "cellbatch.h"

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_RETRIES    3
#define REPLY_MAX          (16u << 20)

/* The smallest structs a caller may pass: the fields of 0.2, the first header with sizes. */
#define CALL_SIZE_MIN    (offsetof(cb_call, timeout_ms) + sizeof(unsigned))
#define OPTIONS_SIZE_MIN (offsetof(cb_client_options, token) + sizeof(const char *))

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
 * Copies src, a struct whose first field is its size in bytes, into dst of
 * dst_size bytes (the library's own sizeof): fields src's size does not cover
 * are 0. CB_EINVAL when src's size is under min_size or src sets a field
 * past dst_size (a newer header's field this library would ignore).
 */
cb_err client_abi_copy(void *dst, size_t dst_size, const void *src, size_t min_size);

/*
 * Every call of a caller's array has the first one's size (its stride) and a
 * layout this library reads (else CB_EINVAL); *timeout is the largest of
 * their timeout_ms.
 */
cb_err client_calls_check(const cb_call *calls, size_t n, unsigned *timeout);

/* The i-th of a caller's array of cb_call whose elements are stride bytes. */
static inline const cb_call *call_at(const cb_call *calls, size_t i, size_t stride)
{
	return (const cb_call *)(const void *)((const char *)calls + i * stride);
}

/*
 * dialall.c: url may list several servers, separated by commas. check: 0 when
 * every one is a URL whose directory may be trusted (cbp_rundir_check), else
 * -1. dial: dials each on sock, over TLS with opts' files for tls+tcp:// and
 * wss:// (a server down among several is redialled in the background); CB_OK
 * when at least one answered, CB_EINVAL for TLS files that cannot be used,
 * CB_ENOMEM, else CB_EUNREACHABLE.
 */
int client_urls_check(const char *urls);
/* The servers when none is given: $CELLBATCH_URL (several as given), else the default socket. */
const char *client_default_urls(char *buf, size_t cap);
cb_err client_dial_all(nng_socket sock, const char *urls, const cb_client_options *opts,
                       unsigned timeout_ms);

/*
 * c->token from opts->token, else $CELLBATCH_TOKEN, trailing blanks and line
 * ends trimmed ("" or unset: none). CB_OK, CB_EINVAL when over CB_AUTH_MAX
 * bytes, CB_ENOMEM.
 */
cb_err client_token(cb_client *c, const cb_client_options *opts);

/*
 * The TLS configuration for url: *out NULL when url is not tls+tcp:// nor
 * wss://, else a client configuration (owned by the caller:
 * nng_tls_config_free) from opts' or the environment's files (cellbatch.h),
 * checking the server's name against the URL's host. CB_OK, CB_EINVAL (a
 * file unreadable or unusable), CB_ENOMEM.
 */
cb_err client_tls(const char *url, const cb_client_options *opts, nng_tls_config **out);

/*
 * One dial of url with nng's flags (0: blocking), with tls (NULL: none) on its
 * dialer, which holds its own reference.
 */
int client_dial_once(nng_socket sock, const char *url, nng_tls_config *tls, int flags);

/* Sets req's auth to c's token, if it has one (req borrows it). */
static inline void client_auth(const cb_client *c, cb_request *req)
{
	if (c->token != NULL) {
		req->has_auth = true;
		req->auth = (cb_str){c->token, (uint32_t)strlen(c->token)};
	}
}

#endif
