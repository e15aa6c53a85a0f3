/* fuzz_request.c: libFuzzer target for the request decoder; a decoded request must re-encode to a
 * fixed point. */
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer a, b;
	msgpack_packer pk;
	cb_decode_error err;
	cb_request req, req2;

	if (cbp_request_decode(data, size, NULL, &req, &err) != CB_OK) {
		/* every rejection carries a code and a message */
		if (err.code == CB_OK || err.message[0] == '\0')
			abort();
		return 0;
	}
	msgpack_sbuffer_init(&a);
	msgpack_packer_init(&pk, &a, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, &req) != CB_OK)
		abort();
	/* the canonical form decodes and re-encodes to itself */
	if (cbp_request_decode(a.data, a.size, NULL, &req2, &err) != CB_OK)
		abort();
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, &req2) != CB_OK)
		abort();
	if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0)
		abort();
	cbp_request_free(&req);
	cbp_request_free(&req2);
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
	return 0;
}
