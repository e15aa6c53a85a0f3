/* error.c: the project's one error enum — wire names and human sentences. */
#include <string.h>

#include "cbproto.h"

static const struct {
	cb_err code;
	const char *name; /* wire spelling, NULL when local-only */
	const char *text;
} err_table[] = {
    {CB_OK, NULL, "success"},
    {CB_EBAD_REQUEST, "BAD_REQUEST", "the request is malformed"},
    {CB_EUNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", "unsupported protocol version"},
    {CB_EUNKNOWN_FN, "UNKNOWN_FN", "unknown function"},
    {CB_ENOT_FOUND, "NOT_FOUND", "no result for this input"},
    {CB_EUPSTREAM_ERROR, "UPSTREAM_ERROR", "the upstream geocoder failed"},
    {CB_EUPSTREAM_AUTH, "UPSTREAM_AUTH", "the upstream geocoder rejected the API key"},
    {CB_EQUOTA_EXCEEDED, "QUOTA_EXCEEDED", "the upstream quota is exhausted"},
    {CB_ETIMEOUT, "TIMEOUT", "the call timed out"},
    {CB_EBUSY, "BUSY", "the server is at its pending-call limit"},
    {CB_ESHUTTING_DOWN, "SHUTTING_DOWN", "the server is shutting down"},
    {CB_EINTERNAL, "INTERNAL", "internal error"},
    {CB_EUNAUTHORIZED, "UNAUTHORIZED", "the request's token is missing or not accepted"},
    {CB_ENOMEM, NULL, "out of memory"},
    {CB_EINVAL, NULL, "invalid argument"},
    {CB_EUNREACHABLE, NULL, "the server could not be reached"},
    {CB_EPROTO, NULL, "the peer does not speak protocol v1"},
    {CB_ECLOSED, NULL, "closed"},
    {CB_EIO, NULL, "input/output error"},
};

#define ERR_COUNT (sizeof(err_table) / sizeof(err_table[0]))

const char *cb_strerror(cb_err err)
{
	for (size_t i = 0; i < ERR_COUNT; i++)
		if (err_table[i].code == err)
			return err_table[i].text;
	return "unknown error";
}

const char *cb_err_name(cb_err err)
{
	for (size_t i = 0; i < ERR_COUNT; i++)
		if (err_table[i].code == err)
			return err_table[i].name;
	return NULL;
}

cb_err cbp_err_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < ERR_COUNT; i++) {
		const char *n = err_table[i].name;
		if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0)
			return err_table[i].code;
	}
	return CB_EINTERNAL;
}
