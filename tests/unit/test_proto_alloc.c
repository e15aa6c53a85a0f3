/* test_proto_alloc.c: hostile messages are rejected without allocating more than their own size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbproto.h"
#include "hexbytes.h"
#include "hostile.h"
#include "json2mp.h"

/*
 * A counting allocator: defining malloc and friends in the executable
 * interposes them for every shared library too (msgpack-c included), so
 * this sees all the decoder's allocations. Not built under sanitizers,
 * which own malloc themselves.
 */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static int counting;
static size_t counted;

void *malloc(size_t n)
{
	if (counting)
		counted += n;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (counting)
		counted += a * b;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		counted += n;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

static size_t decode_counting(const uint8_t *buf, size_t len, cb_err *rv)
{
	cb_decode_error err;
	cb_request req;

	counted = 0;
	counting = 1;
	*rv = cbp_request_decode(buf, len, NULL, &req, &err);
	counting = 0;
	if (*rv == CB_OK)
		cbp_request_free(&req);
	return counted;
}

static void test_hostile_allocations(void **state)
{
	(void)state;
	for (size_t i = 0; i < HOSTILE_COUNT; i++) {
		uint8_t buf[256];
		size_t n = hexbytes(hostile_messages[i], buf, sizeof(buf));
		cb_err rv;
		size_t bytes = decode_counting(buf, n, &rv);

		assert_int_equal(rv, CB_EBAD_REQUEST);
		if (bytes > n)
			fail_msg("%s: allocated %zu bytes for a %zu-byte message",
			         hostile_messages[i], bytes, n);
	}
}

static void test_nesting_allocations(void **state)
{
	uint8_t buf[128];
	size_t n = 0;
	cb_err rv;

	(void)state;
	buf[n++] = 0x81;
	buf[n++] = 0xa1;
	buf[n++] = 'v';
	while (n < 103)
		buf[n++] = 0x91; /* 100 nested one-element arrays */
	buf[n++] = 0xc0;
	assert_int_equal(decode_counting(buf, n, &rv), 0);
	assert_int_equal(rv, CB_EBAD_REQUEST);
}

/* The counter really counts: a valid message does allocate (its unpack zone). */
static void test_counter_counts(void **state)
{
	msgpack_sbuffer b;
	cb_err rv;
	size_t bytes;

	(void)state;
	msgpack_sbuffer_init(&b);
	assert_int_equal(json2mp("{'v':1,'op':'call','fn':'geocode','args':['x']}", &b), 0);
	bytes = decode_counting((const uint8_t *)b.data, b.size, &rv);
	assert_int_equal(rv, CB_OK);
	assert_true(bytes > 0);
	/* bounded by 48 bytes per element plus the zone's header */
	assert_true(bytes <= 48 * b.size + 64);
	msgpack_sbuffer_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostile_allocations),
	    cmocka_unit_test(test_nesting_allocations),
	    cmocka_unit_test(test_counter_counts),
	};
	return cmocka_run_group_tests_name("proto_alloc", tests, NULL, NULL);
}
