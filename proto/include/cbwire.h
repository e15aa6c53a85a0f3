/* cbwire.h: the wire protocol's facts that every layer shares — the one error enum and the
 * functions a call can name. Owned by proto/ (PROTOCOL.md is their contract); installed beside
 * cellbatch.h, which includes it. */
#ifndef CBWIRE_H
#define CBWIRE_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CB_API __attribute__((visibility("default")))
#else
#define CB_API
#endif

/*
 * One error enum for the whole project. The first block mirrors the wire
 * protocol's error codes one to one (cb_err_name() gives the wire spelling);
 * the second block is local to a process and never sent on the wire.
 * 0 is success, as in nng.
 */
typedef enum cb_err {
	CB_OK = 0,
	CB_EBAD_REQUEST,         /* BAD_REQUEST */
	CB_EUNSUPPORTED_VERSION, /* UNSUPPORTED_VERSION */
	CB_EUNKNOWN_FN,          /* UNKNOWN_FN */
	CB_ENOT_FOUND,           /* NOT_FOUND */
	CB_EUPSTREAM_ERROR,      /* UPSTREAM_ERROR */
	CB_EUPSTREAM_AUTH,       /* UPSTREAM_AUTH */
	CB_EQUOTA_EXCEEDED,      /* QUOTA_EXCEEDED */
	CB_ETIMEOUT,             /* TIMEOUT */
	CB_EBUSY,                /* BUSY */
	CB_ESHUTTING_DOWN,       /* SHUTTING_DOWN */
	CB_EINTERNAL,            /* INTERNAL */
	CB_EUNAUTHORIZED,        /* UNAUTHORIZED: appended; older peers read it as INTERNAL */

	CB_ENOMEM = 64,  /* out of memory */
	CB_EINVAL,       /* invalid argument to a library call */
	CB_EUNREACHABLE, /* the server could not be reached */
	CB_EPROTO,       /* the peer sent something that is not protocol v1 */
	CB_ECLOSED,      /* the client or server is closing */
	CB_EIO,          /* an operating-system or transport error */
} cb_err;

/* A human sentence for err; static storage, never NULL. */
CB_API const char *cb_strerror(cb_err err);

/* The wire spelling of err ("NOT_FOUND"), or NULL for local-only codes. */
CB_API const char *cb_err_name(cb_err err);

/* The functions a call can name. */
typedef enum cb_fn {
	CB_FN_GEOCODE, /* text -> location */
	CB_FN_REVERSE, /* lat, lon -> address */
	CB_FN_COUNT
} cb_fn;

#ifdef __cplusplus
}
#endif

#endif
