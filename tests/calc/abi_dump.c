/* abi_dump.c: prints the layout of cellbatch.h's structs, which the add-in's ctypes binding must
 * mirror. */
#include <stddef.h>
#include <stdio.h>

#include "cellbatch.h"

#define FIELD(T, f) printf("%s\"%s\": %zu", first ? "" : ", ", #f, offsetof(T, f)), first = 0

int main(void)
{
	int first = 1;

	printf("{\"cb_call\": {\"size\": %zu, ", sizeof(cb_call));
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
	printf("}, \"cb_result\": {\"size\": %zu, ", sizeof(cb_result));
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
	printf("}, \"cb_client_options\": {\"size\": %zu, ", sizeof(cb_client_options));
	FIELD(cb_client_options, size);
	FIELD(cb_client_options, timeout_ms);
	FIELD(cb_client_options, retries);
	FIELD(cb_client_options, token);
	printf("}, \"cb_err\": %zu}\n", sizeof(cb_err));
	return 0;
}
