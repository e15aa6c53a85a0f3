/* test_proto.c: protocol v1 — PROTOCOL.md examples round-trip, every rejection rule, hostile bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbproto.h"
#include "json2mp.h"
#include "mdhex.h"
#include "hexbytes.h"

/* Every example in PROTOCOL.md decodes and re-encodes to the same bytes. */
static void test_examples_roundtrip(void **state)
{
	mdhex_example *ex;
	int n = mdhex_load(PROTOCOL_MD, &ex);
	int requests = 0, replies = 0;

	(void)state;
	assert_true(n >= 6);
	for (int i = 0; i < n; i++) {
		msgpack_sbuffer out;
		msgpack_packer pk;
		cb_decode_error err;
		cb_err rv;

		msgpack_sbuffer_init(&out);
		msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
		if (ex[i].is_request) {
			cb_request req;
			rv = cbp_request_decode(ex[i].bytes, ex[i].len, NULL, &req, &err);
			if (rv != CB_OK)
				fail_msg("%s: %s", ex[i].title, err.message);
			assert_int_equal(cbp_request_encode(&pk, &req), CB_OK);
			cbp_request_free(&req);
			requests++;
		} else {
			cb_reply rep;
			rv = cbp_reply_decode(ex[i].bytes, ex[i].len, NULL, &rep, &err);
			if (rv != CB_OK)
				fail_msg("%s: %s", ex[i].title, err.message);
			assert_int_equal(cbp_reply_encode(&pk, &rep), CB_OK);
			cbp_reply_free(&rep);
			replies++;
		}
		if (out.size != ex[i].len || memcmp(out.data, ex[i].bytes, out.size) != 0)
			fail_msg("%s: re-encoding differs (%zu vs %zu bytes)", ex[i].title,
			         out.size, ex[i].len);
		msgpack_sbuffer_destroy(&out);
	}
	assert_true(requests >= 3);
	assert_true(replies >= 3);
	mdhex_free(ex, n);
}

/* The decoded fields of the examples are what the document's JSON says. */
static void test_examples_fields(void **state)
{
	mdhex_example *ex;
	int n = mdhex_load(PROTOCOL_MD, &ex);
	cb_decode_error err;
	cb_request req;
	cb_reply rep;

	(void)state;
	assert_true(n >= 8);
	/* 0: geocode call with id 7 and lang=fr */
	assert_int_equal(cbp_request_decode(ex[0].bytes, ex[0].len, NULL, &req, &err), CB_OK);
	assert_int_equal(req.op, CB_OP_CALL);
	assert_true(req.has_id);
	assert_int_equal(req.id, 7);
	assert_int_equal(req.call.fn, CB_FN_GEOCODE);
	assert_memory_equal(req.call.text.ptr, "Tour Eiffel Champ de Mars, Paris", 32);
	assert_int_equal(req.call.opts.v[CB_OPT_LANG].len, 2);
	assert_null(req.call.opts.v[CB_OPT_TYPE].ptr);
	cbp_request_free(&req);
	/* 1: reverse with deadline */
	assert_int_equal(cbp_request_decode(ex[1].bytes, ex[1].len, NULL, &req, &err), CB_OK);
	assert_int_equal(req.call.fn, CB_FN_REVERSE);
	assert_float_equal(req.call.lat, 48.8584, 1e-12);
	assert_float_equal(req.call.lon, 2.2945, 1e-12);
	assert_true(req.has_deadline);
	assert_int_equal(req.deadline_ms, 5000);
	cbp_request_free(&req);
	/* 2: multi of two */
	assert_int_equal(cbp_request_decode(ex[2].bytes, ex[2].len, NULL, &req, &err), CB_OK);
	assert_int_equal(req.op, CB_OP_MULTI);
	assert_int_equal(req.ncalls, 2);
	assert_int_equal(req.calls[1].text.len, strlen("nowhere at all"));
	cbp_request_free(&req);
	/* 5: a successful reply */
	assert_int_equal(cbp_reply_decode(ex[5].bytes, ex[5].len, NULL, &rep, &err), CB_OK);
	assert_int_equal(rep.err, CB_OK);
	assert_true(rep.has_result);
	assert_float_equal(rep.result.lat, 48.8584, 1e-12);
	assert_int_equal(rep.meta.batch_size, 1000);
	assert_true(rep.result.has_confidence);
	cbp_reply_free(&rep);
	/* 6: NOT_FOUND */
	assert_int_equal(cbp_reply_decode(ex[6].bytes, ex[6].len, NULL, &rep, &err), CB_OK);
	assert_int_equal(rep.err, CB_ENOT_FOUND);
	cbp_reply_free(&rep);
	/* 8: multi reply, second element failed */
	assert_int_equal(cbp_reply_decode(ex[8].bytes, ex[8].len, NULL, &rep, &err), CB_OK);
	assert_true(rep.is_multi);
	assert_int_equal(rep.nresults, 2);
	assert_true(rep.results[0].meta.cached);
	assert_int_equal(rep.results[1].err, CB_ENOT_FOUND);
	cbp_reply_free(&rep);
	/* the last two: stats with a token, and UNAUTHORIZED */
	assert_int_equal(cbp_request_decode(ex[n - 2].bytes, ex[n - 2].len, NULL, &req, &err),
	                 CB_OK);
	assert_int_equal(req.op, CB_OP_STATS);
	assert_true(req.has_auth);
	assert_int_equal(req.auth.len, 17);
	assert_memory_equal(req.auth.ptr, "s3cret-team-token", 17);
	cbp_request_free(&req);
	assert_int_equal(cbp_reply_decode(ex[n - 1].bytes, ex[n - 1].len, NULL, &rep, &err), CB_OK);
	assert_int_equal(rep.err, CB_EUNAUTHORIZED);
	cbp_reply_free(&rep);
	mdhex_free(ex, n);
}

typedef struct reject_case {
	const char *json; /* NULL: use hex */
	const char *hex;
	cb_err code;
	const char *message;
} reject_case;

static const reject_case json_cases[] = {
    {"{}", NULL, CB_EBAD_REQUEST, "v: required key missing"},
    {"[1]", NULL, CB_EBAD_REQUEST, "body: expected map, got array"},
    {"{'op':'ping'}", NULL, CB_EBAD_REQUEST, "v: required key missing"},
    {"{'v':'1','op':'ping'}", NULL, CB_EBAD_REQUEST, "v: expected integer, got string"},
    {"{'v':2,'op':'ping'}", NULL, CB_EUNSUPPORTED_VERSION,
     "v: version 2 is not supported (this side speaks 1)"},
    {"{'v':-1,'op':'ping'}", NULL, CB_EUNSUPPORTED_VERSION,
     "v: version -1 is not supported (this side speaks 1)"},
    {"{'v':1}", NULL, CB_EBAD_REQUEST, "op: required key missing"},
    {"{'v':1,'op':7}", NULL, CB_EBAD_REQUEST, "op: expected string, got integer"},
    {"{'v':1,'op':'route'}", NULL, CB_EBAD_REQUEST, "op: unknown op \"route\""},
    {"{'v':1,'op':'ping','auth':5}", NULL, CB_EBAD_REQUEST, "auth: expected string, got integer"},
    {"{'v':1,'op':'ping','auth':''}", NULL, CB_EBAD_REQUEST,
     "auth: a token must be 1 to 1024 bytes, got 0"},
    {"{'v':1,'op':'ping','id':-3}", NULL, CB_EBAD_REQUEST,
     "id: expected unsigned integer, got negative integer"},
    {"{'v':1,'op':'ping','id':'x'}", NULL, CB_EBAD_REQUEST,
     "id: expected unsigned integer, got string"},
    /* JSON cannot say it, so bytes: {"v":1,"v":1,"op":"ping"} */
    {NULL, "83 a1 76 01 a1 76 01 a2 6f 70 a4 70 69 6e 67", CB_EBAD_REQUEST, "v: duplicate key"},
    {"{'v':1,'op':'call','args':['a']}", NULL, CB_EBAD_REQUEST, "fn: required key missing"},
    {"{'v':1,'op':'call','fn':true,'args':['a']}", NULL, CB_EBAD_REQUEST,
     "fn: expected string, got boolean"},
    {"{'v':1,'op':'call','fn':'route','args':['a']}", NULL, CB_EUNKNOWN_FN,
     "fn: unknown function \"route\""},
    {"{'v':1,'op':'call','fn':'geocode'}", NULL, CB_EBAD_REQUEST, "args: required key missing"},
    {"{'v':1,'op':'call','fn':'geocode','args':'a'}", NULL, CB_EBAD_REQUEST,
     "args: expected array, got string"},
    {"{'v':1,'op':'call','fn':'geocode','args':['a','b']}", NULL, CB_EBAD_REQUEST,
     "args: geocode takes 1 argument [text], got 2"},
    {"{'v':1,'op':'call','fn':'geocode','args':[5]}", NULL, CB_EBAD_REQUEST,
     "args[0]: expected string, got integer"},
    {"{'v':1,'op':'call','fn':'geocode','args':['']}", NULL, CB_EBAD_REQUEST,
     "args[0]: text must be 1 to 1024 bytes, got 0"},
    {"{'v':1,'op':'call','fn':'reverse','args':[1]}", NULL, CB_EBAD_REQUEST,
     "args: reverse takes 2 arguments [lat, lon], got 1"},
    {"{'v':1,'op':'call','fn':'reverse','args':['48.1',2.0]}", NULL, CB_EBAD_REQUEST,
     "args[0]: expected number, got string"},
    {"{'v':1,'op':'call','fn':'reverse','args':[90.5,2.0]}", NULL, CB_EBAD_REQUEST,
     "args[0]: latitude 90.5 is outside [-90, 90]"},
    {"{'v':1,'op':'call','fn':'reverse','args':[10,-181]}", NULL, CB_EBAD_REQUEST,
     "args[1]: longitude -181 is outside [-180, 180]"},
    {"{'v':1,'op':'call','fn':'geocode','args':['a'],'opts':['fr']}", NULL, CB_EBAD_REQUEST,
     "opts: expected map, got array"},
    {"{'v':1,'op':'call','fn':'geocode','args':['a'],'opts':{'lang':1}}", NULL, CB_EBAD_REQUEST,
     "opts.lang: expected string, got integer"},
    {"{'v':1,'op':'call','fn':'geocode','args':['a'],'opts':{'type':''}}", NULL, CB_EBAD_REQUEST,
     "opts.type: text must be 1 to 1024 bytes, got 0"},
    {"{'v':1,'op':'call','fn':'geocode','args':['a'],'deadline_ms':-5}", NULL, CB_EBAD_REQUEST,
     "deadline_ms: expected unsigned integer, got negative integer"},
    {"{'v':1,'op':'multi'}", NULL, CB_EBAD_REQUEST, "calls: required key missing"},
    {"{'v':1,'op':'multi','calls':{}}", NULL, CB_EBAD_REQUEST, "calls: expected array, got map"},
    {"{'v':1,'op':'multi','calls':[]}", NULL, CB_EBAD_REQUEST,
     "calls: at least 1 call is required"},
    {"{'v':1,'op':'multi','calls':[{'fn':'geocode','args':['a']},7]}", NULL, CB_EBAD_REQUEST,
     "calls[1]: expected map, got integer"},
    {"{'v':1,'op':'multi','calls':[{'fn':'geocode','args':['a']},{'fn':'reverse','args':[1,"
     "200]}]}",
     NULL, CB_EBAD_REQUEST, "calls[1].args[1]: longitude 200 is outside [-180, 180]"},
    {"{'v':1,'op':'multi','calls':[{'fn':'nope','args':['a']}]}", NULL, CB_EUNKNOWN_FN,
     "calls[0].fn: unknown function \"nope\""},
    /* hostile and structural, as raw bytes */
    {NULL, "", CB_EBAD_REQUEST, "body: empty message"},
    /* array header claiming 2^32-1 elements inside a 10-byte message */
    {NULL, "81 a5 63 61 6c 6c 73 dd ff ff", CB_EBAD_REQUEST, "calls: message truncated at byte 8"},
    {NULL, "82 a1 76 01 a5 63 61 6c 6c 73 dd ff ff ff ff", CB_EBAD_REQUEST,
     "calls: array header claims 4294967295 elements but only 0 bytes remain"},
    {NULL, "81 a1 76 df ff ff ff ff", CB_EBAD_REQUEST,
     "v: map header claims 4294967295 entries but only 0 bytes remain"},
    /* a 1 GiB string length in a 10-byte message */
    {NULL, "81 a1 76 db 40 00 00 00 41 41", CB_EBAD_REQUEST,
     "v: string length 1073741824 exceeds the 2 bytes remaining"},
    {NULL, "81 a1 76 c6 40 00 00 00 41 41", CB_EBAD_REQUEST,
     "v: binary length 1073741824 exceeds the 2 bytes remaining"},
    /* truncation */
    {NULL, "82 a1 76 01 a2 6f", CB_EBAD_REQUEST,
     "body: string length 2 exceeds the 1 bytes remaining"},
    {NULL, "82 a1 76 01 a2 6f 70", CB_EBAD_REQUEST, "op: message truncated at byte 7"},
    {NULL, "82 a1 76 01 a2 6f 70 cb 40 00", CB_EBAD_REQUEST, "op: message truncated at byte 8"},
    /* trailing garbage */
    {NULL, "82 a1 76 01 a2 6f 70 a4 70 69 6e 67 00 00", CB_EBAD_REQUEST,
     "body: 2 trailing bytes after the message"},
    /* invalid UTF-8: a lone continuation byte, an overlong slash, a surrogate */
    {NULL,
     "84 a1 76 01 a2 6f 70 a4 63 61 6c 6c a2 66 6e a7 67 65 6f 63 6f 64 65 a4 61 72 67 73 "
     "91 a3 61 62 80",
     CB_EBAD_REQUEST, "args[0]: invalid UTF-8 at byte 2 of the string"},
    {NULL, "81 a1 76 a2 c0 af", CB_EBAD_REQUEST, "v: invalid UTF-8 at byte 0 of the string"},
    {NULL, "81 a1 76 a3 ed a0 80", CB_EBAD_REQUEST, "v: invalid UTF-8 at byte 0 of the string"},
    {NULL, "81 a2 c3 28 01", CB_EBAD_REQUEST, "body: invalid UTF-8 at byte 0 of the string"},
    /* NaN and infinity, float64 and float32 */
    {NULL,
     "84 a1 76 01 a2 6f 70 a4 63 61 6c 6c a2 66 6e a7 72 65 76 65 72 73 65 a4 61 72 67 "
     "73 92 cb 7f f8 00 00 00 00 00 00 00",
     CB_EBAD_REQUEST, "args[0]: number is not finite"},
    {NULL,
     "84 a1 76 01 a2 6f 70 a4 63 61 6c 6c a2 66 6e a7 72 65 76 65 72 73 65 a4 61 72 67 "
     "73 92 00 ca 7f 80 00 00",
     CB_EBAD_REQUEST, "args[1]: number is not finite"},
    /* non-string key, the never-used byte */
    {NULL, "81 01 01", CB_EBAD_REQUEST, "body: map key must be a string, got integer"},
    {NULL, "81 a1 76 c1", CB_EBAD_REQUEST, "v: invalid byte 0xc1 at byte 3"},
};

/*
 * The request's error, or for a multi whose envelope is valid, its first
 * invalid call's: inside a multi, a call is refused on its own.
 */
static cb_err decode_first_error(const uint8_t *buf, size_t len, const cb_limits *lim,
                                 cb_decode_error *err)
{
	cb_request req;
	cb_err rv = cbp_request_decode(buf, len, lim, &req, err);

	if (rv != CB_OK)
		return rv;
	for (uint32_t i = 0; req.call_errors != NULL && i < req.ncalls; i++) {
		if (req.call_errors[i].code != CB_OK) {
			*err = req.call_errors[i];
			break;
		}
	}
	cbp_request_free(&req);
	return err->code;
}

static void check_reject(const reject_case *c, const uint8_t *buf, size_t len, const cb_limits *lim)
{
	cb_decode_error err;
	cb_err rv = decode_first_error(buf, len, lim, &err);

	if (rv != c->code || strcmp(err.message, c->message) != 0)
		fail_msg("%s\n  want %s \"%s\"\n  got  %s \"%s\"", c->json ? c->json : c->hex,
		         cb_err_name(c->code), c->message, cb_err_name(rv), err.message);
	assert_int_equal(err.code, rv);
}

static void test_rejections(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const reject_case *c = &json_cases[i];
		if (c->json != NULL) {
			msgpack_sbuffer b;
			msgpack_sbuffer_init(&b);
			assert_int_equal(json2mp(c->json, &b), 0);
			check_reject(c, (const uint8_t *)b.data, b.size, NULL);
			msgpack_sbuffer_destroy(&b);
		} else {
			uint8_t buf[256];
			size_t n = hexbytes(c->hex, buf, sizeof(buf));
			check_reject(c, buf, n, NULL);
		}
	}
}

static void pack_nested(msgpack_sbuffer *b, int depth)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_str_with_body(&pk, "x", 1);
	for (int i = 0; i < depth; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
}

static void test_depth(void **state)
{
	msgpack_sbuffer b;
	reject_case deep = {"100-deep", NULL, CB_EBAD_REQUEST,
	                    "x[0][0][0][0][0][0][0]: nesting deeper than 8 levels"};

	(void)state;
	msgpack_sbuffer_init(&b);
	pack_nested(&b, 100);
	check_reject(&deep, (const uint8_t *)b.data, b.size, NULL);
	msgpack_sbuffer_destroy(&b);

	/* 7 arrays under the top map is 8 levels: allowed (then rejected for lacking op) */
	msgpack_sbuffer_init(&b);
	pack_nested(&b, 7);
	deep.message = "op: required key missing";
	check_reject(&deep, (const uint8_t *)b.data, b.size, NULL);
	msgpack_sbuffer_destroy(&b);
}

static void test_size_cap(void **state)
{
	msgpack_sbuffer b;
	cb_limits lim = {.max_bytes = 16};
	reject_case big = {"{'v':1,'op':'ping','pad':'0123456789'}", NULL, CB_EBAD_REQUEST,
	                   "body: 27 bytes exceeds the 16-byte limit"};
	cb_decode_error err;
	cb_request req;

	(void)state;
	msgpack_sbuffer_init(&b);
	assert_int_equal(json2mp(big.json, &b), 0);
	check_reject(&big, (const uint8_t *)b.data, b.size, &lim);
	/* the default cap lets it through, and the unknown key is ignored */
	assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err), CB_OK);
	assert_int_equal(req.op, CB_OP_PING);
	msgpack_sbuffer_destroy(&b);
}

static void test_text_limits(void **state)
{
	char json[1200];
	char text[1026];
	msgpack_sbuffer b;
	cb_decode_error err;
	cb_request req;

	(void)state;
	memset(text, 'a', sizeof(text));
	text[1024] = '\0';
	snprintf(json, sizeof(json), "{'v':1,'op':'call','fn':'geocode','args':['%s']}", text);
	msgpack_sbuffer_init(&b);
	assert_int_equal(json2mp(json, &b), 0);
	assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err), CB_OK);
	assert_int_equal(req.call.text.len, 1024);
	msgpack_sbuffer_destroy(&b);

	text[1024] = 'a';
	text[1025] = '\0';
	snprintf(json, sizeof(json), "{'v':1,'op':'call','fn':'geocode','args':['%s']}", text);
	msgpack_sbuffer_init(&b);
	assert_int_equal(json2mp(json, &b), 0);
	assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err), CB_EBAD_REQUEST);
	assert_string_equal(err.message, "args[0]: text must be 1 to 1024 bytes, got 1025");
	msgpack_sbuffer_destroy(&b);
}

/* Integers and float32 are numbers too; non-Latin text and unknown keys pass. */
static void test_accepts(void **state)
{
	msgpack_sbuffer b;
	cb_decode_error err;
	cb_request req;

	(void)state;
	msgpack_sbuffer_init(&b);
	assert_int_equal(json2mp("{'op':'call','fn':'reverse','v':1,'args':[-33,151],"
	                         "'future':{'x':[1,2]}}",
	                         &b),
	                 0);
	assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err), CB_OK);
	assert_float_equal(req.call.lat, -33.0, 0);
	assert_float_equal(req.call.lon, 151.0, 0);
	msgpack_sbuffer_destroy(&b);

	msgpack_sbuffer_init(&b);
	assert_int_equal(json2mp("{'v':1,'op':'call','fn':'geocode','args':['東京都千代田区'],"
	                         "'opts':{'lang':'ja','unknown':'x'}}",
	                         &b),
	                 0);
	assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err), CB_OK);
	assert_int_equal(req.call.text.len, strlen("東京都千代田区"));
	msgpack_sbuffer_destroy(&b);

	/* float32 (0xca) latitude */
	{
		uint8_t buf[64];
		size_t n =
		    hexbytes("84 a1 76 01 a2 6f 70 a4 63 61 6c 6c a2 66 6e a7 72 65 76 65 72 "
		             "73 65 a4 61 72 67 73 92 ca 41 20 00 00 00",
		             buf, sizeof(buf));
		assert_int_equal(cbp_request_decode(buf, n, NULL, &req, &err), CB_OK);
		assert_float_equal(req.call.lat, 10.0, 0);
	}
}

/* Encodes req and decodes it back into *out (the caller frees out and *buf). */
static cb_err roundtrip(const cb_request *req, cb_request *out, cb_decode_error *err, void **buf)
{
	cb_limits lim = {.max_bytes = CB_MAX_BYTES_DEFAULT};
	msgpack_sbuffer b;
	msgpack_packer pk;
	size_t len;

	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	assert_int_equal(cbp_request_encode(&pk, req), CB_OK);
	len = b.size;
	*buf = msgpack_sbuffer_release(&b);
	return cbp_request_decode(*buf, len, &lim, out, err);
}

/* NUL and other control characters are refused; tab and line breaks are not. */
static void test_control_characters(void **state)
{
	const char *bad[] = {"ab\0c", "\x01", "x\x1fy", "del\x7f"};
	const size_t bad_len[] = {4, 1, 3, 4};
	const char *fine = "12 Main St\r\n\tApt 4";
	cb_request req = {.op = CB_OP_CALL, .call = {.fn = CB_FN_GEOCODE}}, out;
	cb_decode_error err;
	void *buf;
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		req.call.text = (cb_str){bad[i], (uint32_t)bad_len[i]};
		assert_int_equal(roundtrip(&req, &out, &err, &buf), CB_EBAD_REQUEST);
		assert_non_null(strstr(err.message, "args[0]: control character U+00"));
		free(buf);
	}
	req.call.text = (cb_str){fine, (uint32_t)strlen(fine)};
	assert_int_equal(roundtrip(&req, &out, &err, &buf), CB_OK);
	assert_null(out.call_errors);
	cbp_request_free(&out);
	free(buf);
}

/* Inside a multi each call stands alone: the invalid ones are noted, the request is valid. */
static void test_multi_call_errors_are_per_call(void **state)
{
	static char longtext[CB_TEXT_MAX + 77];
	cb_wire_call calls[4] = {
	    {.fn = CB_FN_GEOCODE, .text = {"good one", 8}},
	    {.fn = CB_FN_GEOCODE, .text = {longtext, sizeof(longtext)}},
	    {.fn = CB_FN_REVERSE, .lat = 200, .lon = 1},
	    {.fn = CB_FN_GEOCODE, .text = {"nul\0", 4}},
	};
	cb_request req = {.op = CB_OP_MULTI, .calls = calls, .ncalls = 4}, out;
	cb_decode_error err;
	void *buf;
	(void)state;

	memset(longtext, 'a', sizeof(longtext));
	assert_int_equal(roundtrip(&req, &out, &err, &buf), CB_OK);
	assert_int_equal(out.ncalls, 4);
	assert_non_null(out.call_errors);
	assert_int_equal(out.call_errors[0].code, CB_OK);
	assert_int_equal(out.calls[0].text.len, 8);
	assert_int_equal(out.call_errors[1].code, CB_EBAD_REQUEST);
	assert_string_equal(out.call_errors[1].message,
	                    "calls[1].args[0]: text must be 1 to 1024 bytes, got 1101");
	assert_int_equal(out.call_errors[2].code, CB_EBAD_REQUEST);
	assert_string_equal(out.call_errors[2].message,
	                    "calls[2].args[0]: latitude 200 is outside [-90, 90]");
	assert_int_equal(out.call_errors[3].code, CB_EBAD_REQUEST);
	cbp_request_free(&out);
	assert_null(out.call_errors);
	free(buf);
}

static void test_multi_limit(void **state)
{
	msgpack_sbuffer b;
	msgpack_packer pk;
	cb_decode_error err;
	cb_request req;

	(void)state;
	for (int n = CB_MAX_MULTI; n <= CB_MAX_MULTI + 1; n++) {
		msgpack_sbuffer_init(&b);
		msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		msgpack_pack_str_with_body(&pk, "v", 1);
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_str_with_body(&pk, "op", 2);
		msgpack_pack_str_with_body(&pk, "multi", 5);
		msgpack_pack_str_with_body(&pk, "calls", 5);
		msgpack_pack_array(&pk, (size_t)n);
		for (int i = 0; i < n; i++) {
			msgpack_pack_map(&pk, 2);
			msgpack_pack_str_with_body(&pk, "fn", 2);
			msgpack_pack_str_with_body(&pk, "geocode", 7);
			msgpack_pack_str_with_body(&pk, "args", 4);
			msgpack_pack_array(&pk, 1);
			msgpack_pack_str_with_body(&pk, "x", 1);
		}
		if (n == CB_MAX_MULTI) {
			assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err),
			                 CB_OK);
			assert_int_equal(req.ncalls, CB_MAX_MULTI);
			cbp_request_free(&req);
		} else {
			assert_int_equal(cbp_request_decode(b.data, b.size, NULL, &req, &err),
			                 CB_EBAD_REQUEST);
			assert_string_equal(err.message, "calls: at most 10000 calls, got 10001");
		}
		msgpack_sbuffer_destroy(&b);
	}
}

static void test_error_names(void **state)
{
	(void)state;
	assert_string_equal(cb_err_name(CB_EBUSY), "BUSY");
	assert_null(cb_err_name(CB_ENOMEM));
	assert_int_equal(cbp_err_from_name("SHUTTING_DOWN", 13), CB_ESHUTTING_DOWN);
	/* how a client built before a code was added reads it (UNAUTHORIZED before issue 18) */
	assert_int_equal(cbp_err_from_name("SOMETHING_NEW", 13), CB_EINTERNAL);
	assert_int_equal(cbp_err_from_name("UNAUTHORIZED", 12), CB_EUNAUTHORIZED);
	assert_string_equal(cb_err_name(CB_EUNAUTHORIZED), "UNAUTHORIZED");
	assert_int_equal(CB_EUNAUTHORIZED,
	                 CB_EINTERNAL + 1); /* existing codes keep their numbers */
	assert_string_equal(cb_strerror(CB_ETIMEOUT), "the call timed out");

	/* a local-only code goes on the wire as INTERNAL */
	{
		msgpack_sbuffer b;
		msgpack_packer pk;
		cb_decode_error err;
		cb_reply rep;
		msgpack_sbuffer_init(&b);
		msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
		assert_int_equal(cbp_error_reply_encode(&pk, true, 5, CB_ENOMEM, "oom", 3), CB_OK);
		assert_int_equal(cbp_reply_decode(b.data, b.size, NULL, &rep, &err), CB_OK);
		assert_int_equal(rep.err, CB_EINTERNAL);
		assert_int_equal(rep.id, 5);
		cbp_reply_free(&rep);
		msgpack_sbuffer_destroy(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_roundtrip),
	    cmocka_unit_test(test_examples_fields),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_text_limits),
	    cmocka_unit_test(test_accepts),
	    cmocka_unit_test(test_multi_limit),
	    cmocka_unit_test(test_control_characters),
	    cmocka_unit_test(test_multi_call_errors_are_per_call),
	    cmocka_unit_test(test_error_names),
	};
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
