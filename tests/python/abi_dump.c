/* abi_dump.c: prints, as JSON, the layout of cellbatch.h's structs and the values of its enums as
 * the compiler sees them, for the Python binding's ABI check (tests/python/test_abi.py). */
#include <stddef.h>
#include <stdio.h>

#include "cellbatch.h"

#define FIELD(T, f) printf("%s\"%s\": %zu", first ? "" : ", ", #f, offsetof(T, f)), first = 0
#define VALUE(v)    printf("%s\"%s\": %d", first ? "" : ", ", #v, (int)(v)), first = 0

static void dump_structs(void)
{
	int first = 1;

	printf("\"cb_call\": {\"sizeof\": %zu, ", sizeof(cb_call));
	FIELD(cb_call, size);
	FIELD(cb_call, fn);
	FIELD(cb_call, text);
	FIELD(cb_call, lat);
	FIELD(cb_call, lon);
	FIELD(cb_call, lang);
	FIELD(cb_call, type);
	FIELD(cb_call, filter);
	FIELD(cb_call, bias);
	FIELD(cb_call, countrycodes);
	FIELD(cb_call, timeout_ms);
	first = 1;
	printf("}, \"cb_result\": {\"sizeof\": %zu, ", sizeof(cb_result));
	FIELD(cb_result, err);
	FIELD(cb_result, message);
	FIELD(cb_result, lat);
	FIELD(cb_result, lon);
	FIELD(cb_result, formatted);
	FIELD(cb_result, has_confidence);
	FIELD(cb_result, confidence);
	FIELD(cb_result, result_type);
	FIELD(cb_result, cached);
	FIELD(cb_result, batch_size);
	FIELD(cb_result, wait_ms);
	first = 1;
	printf("}, \"cb_client_options\": {\"sizeof\": %zu, ", sizeof(cb_client_options));
	FIELD(cb_client_options, size);
	FIELD(cb_client_options, timeout_ms);
	FIELD(cb_client_options, retries);
	FIELD(cb_client_options, token);
	FIELD(cb_client_options, tls_ca);
	FIELD(cb_client_options, tls_cert);
	FIELD(cb_client_options, tls_key);
	printf("}, \"sizeof_cb_err\": %zu, \"sizeof_cb_fn\": %zu", sizeof(cb_err), sizeof(cb_fn));
}

/* test_abi.py checks these names against the header's, so a value added there and not here fails */
static void dump_enums(void)
{
	int first = 1;

	printf(", \"cb_err\": {");
	VALUE(CB_OK);
	VALUE(CB_EBAD_REQUEST);
	VALUE(CB_EUNSUPPORTED_VERSION);
	VALUE(CB_EUNKNOWN_FN);
	VALUE(CB_ENOT_FOUND);
	VALUE(CB_EUPSTREAM_ERROR);
	VALUE(CB_EUPSTREAM_AUTH);
	VALUE(CB_EQUOTA_EXCEEDED);
	VALUE(CB_ETIMEOUT);
	VALUE(CB_EBUSY);
	VALUE(CB_ESHUTTING_DOWN);
	VALUE(CB_EINTERNAL);
	VALUE(CB_EUNAUTHORIZED);
	VALUE(CB_ENOMEM);
	VALUE(CB_EINVAL);
	VALUE(CB_EUNREACHABLE);
	VALUE(CB_EPROTO);
	VALUE(CB_ECLOSED);
	VALUE(CB_EIO);
	first = 1;
	printf("}, \"cb_fn\": {");
	VALUE(CB_FN_GEOCODE);
	VALUE(CB_FN_REVERSE);
	VALUE(CB_FN_COUNT);
	printf("}, \"version_hex\": %d, \"soversion\": %d", CELLBATCH_VERSION_HEX,
	       CELLBATCH_SOVERSION);
}

int main(void)
{
	printf("{");
	dump_structs();
	dump_enums();
	printf("}\n");
	return 0;
}
