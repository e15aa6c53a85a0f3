/* proto_roundtrip.c: encodes a geocode request with cbproto, decodes it back and prints both forms.
 */
#include <stdio.h>
#include <string.h>

#include "cbproto.h"

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "Tour Eiffel Champ de Mars, Paris";
	cb_request req = {.op = CB_OP_CALL, .has_id = true, .id = 1};
	cb_request back;
	cb_decode_error err;
	msgpack_sbuffer buf;
	msgpack_packer pk;
	int rv = 1;

	req.call.fn = CB_FN_GEOCODE;
	req.call.text = (cb_str){text, (uint32_t)strlen(text)};
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, &req) != CB_OK)
		goto out;
	printf("request, %zu bytes:", buf.size);
	for (size_t i = 0; i < buf.size; i++)
		printf("%s%02x", i % 16 ? " " : "\n  ", (unsigned char)buf.data[i]);
	printf("\n");
	if (cbp_request_decode(buf.data, buf.size, NULL, &back, &err) != CB_OK) {
		fprintf(stderr, "decode: %s: %s\n", cb_err_name(err.code), err.message);
		goto out;
	}
	printf("decoded: op=%s id=%llu fn=%s text=\"%.*s\"\n", cbp_op_names[back.op],
	       (unsigned long long)back.id, cbp_fns[back.call.fn].name, (int)back.call.text.len,
	       back.call.text.ptr);
	cbp_request_free(&back);
	rv = 0;
out:
	msgpack_sbuffer_destroy(&buf);
	return rv;
}
