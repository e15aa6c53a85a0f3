/* abi.c: reads a caller's extensible struct (cb_call, cb_client_options) whatever header it was
 * built against, and the library's own version and free. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

const char *cb_version(void)
{
	return CB_VERSION;
}

unsigned cb_version_hex(void)
{
	return CELLBATCH_VERSION_HEX;
}

void cb_free(void *p)
{
	free(p);
}

/*
 * A struct from an older header is shorter: the fields it lacks stay 0, their
 * default. One from a newer header is longer: the fields this library does not
 * know must be 0, or the caller asked for something that would be ignored.
 */
cb_err client_abi_copy(void *dst, size_t dst_size, const void *src, size_t min_size)
{
	size_t size;

	memcpy(&size, src, sizeof(size));
	if (size < min_size)
		return CB_EINVAL;
	memset(dst, 0, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	for (size_t i = dst_size; i < size; i++)
		if (((const unsigned char *)src)[i] != 0)
			return CB_EINVAL;
	((size_t *)dst)[0] = dst_size;
	return CB_OK;
}

/*
 * Every call of a caller's array has the first one's size (its stride) and a
 * layout this library reads; *timeout is the largest of their timeout_ms.
 */
cb_err client_calls_check(const cb_call *calls, size_t n, unsigned *timeout)
{
	size_t stride = calls[0].size;
	cb_call one;

	*timeout = 0;
	for (size_t i = 0; i < n; i++) {
		const cb_call *call = call_at(calls, i, stride);
		if (call->size != stride ||
		    client_abi_copy(&one, sizeof(one), call, CALL_SIZE_MIN) != CB_OK)
			return CB_EINVAL;
		if (one.timeout_ms > *timeout)
			*timeout = one.timeout_ms;
	}
	return CB_OK;
}
