/* test_limits.c: the size limits — the largest valid request fits the default cap, and the cap is
 * enforced to the byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbproto.h"

/* A multi of CB_MAX_MULTI calls, each with a CB_TEXT_MAX text and every option at CB_TEXT_MAX. */
static void encode_largest(msgpack_sbuffer *b, char *text)
{
	cb_request req = {.op = CB_OP_MULTI,
	                  .has_id = true,
	                  .id = UINT64_MAX,
	                  .has_deadline = true,
	                  .deadline_ms = UINT64_MAX};
	msgpack_packer pk;

	req.ncalls = CB_MAX_MULTI;
	req.calls = calloc(CB_MAX_MULTI, sizeof(*req.calls));
	assert_non_null(req.calls);
	for (uint32_t i = 0; i < req.ncalls; i++) {
		req.calls[i].fn = CB_FN_GEOCODE;
		req.calls[i].text = (cb_str){text, CB_TEXT_MAX};
		for (int o = 0; o < CB_OPT_COUNT; o++)
			req.calls[i].opts.v[o] = (cb_str){text, CB_TEXT_MAX};
	}
	msgpack_sbuffer_init(b);
	msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
	assert_int_equal(cbp_request_encode(&pk, &req), CB_OK);
	free(req.calls);
}

static void test_largest_multi_fits_the_default_cap(void **state)
{
	char *text = malloc(CB_TEXT_MAX);
	msgpack_sbuffer b;
	cb_decode_error err;
	cb_request req;

	(void)state;
	memset(text, 'a', CB_TEXT_MAX);
	encode_largest(&b, text);
	print_message("largest valid request: %zu bytes, cap %u\n", b.size,
	              (unsigned)CB_MAX_BYTES_DEFAULT);
	assert_true(b.size <= CB_MAX_BYTES_DEFAULT);
	assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err), CB_OK);
	assert_int_equal(req.ncalls, CB_MAX_MULTI);
	assert_int_equal(req.calls[CB_MAX_MULTI - 1].opts.v[CB_OPT_COUNTRYCODES].len, CB_TEXT_MAX);
	cbp_request_free(&req);
	msgpack_sbuffer_destroy(&b);
	free(text);
}

/* One byte over the cap is refused with both numbers in the message; at the cap it is read. */
static void test_cap_to_the_byte(void **state)
{
	cb_limits lim = {.max_bytes = 4096};
	uint8_t buf[4097];
	cb_decode_error err;
	cb_request req;

	(void)state;
	/* {"v":1,"op":"ping","pad":"aaa..."} sized to exactly n bytes (str16 for the pad) */
	for (size_t n = 4096; n <= 4097; n++) {
		static const uint8_t head[] = {0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa4, 'p',
		                               'i',  'n',  'g', 0xa3, 'p',  'a', 'd', 0xda};
		size_t pad = n - sizeof(head) - 2;
		memcpy(buf, head, sizeof(head));
		buf[sizeof(head)] = (uint8_t)(pad >> 8);
		buf[sizeof(head) + 1] = (uint8_t)pad;
		memset(buf + sizeof(head) + 2, 'a', pad);
		cb_err rv = cbp_request_decode(buf, n, &lim, &req, &err);
		if (n == 4096) {
			assert_int_equal(rv, CB_OK);
			assert_int_equal(req.op, CB_OP_PING);
			cbp_request_free(&req);
		} else {
			assert_int_equal(rv, CB_EBAD_REQUEST);
			assert_non_null(
			    strstr(err.message, "4097 bytes exceeds the 4096-byte limit"));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_largest_multi_fits_the_default_cap),
	    cmocka_unit_test(test_cap_to_the_byte),
	};
	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
