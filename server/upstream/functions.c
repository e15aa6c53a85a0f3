/* functions.c: the table of upstream batch functions — one entry per protocol fn. */
#include <math.h>
#include <string.h>

#include "functions.h"
#include "jarena.h"

static json_t *geocode_item(const job_item *it)
{
	return json_stringn(it->text, it->text_len);
}

static bool geocode_matches(const job_item *it, json_t *query)
{
	json_t *text = json_object_get(query, "text");
	return json_is_string(text) && json_string_length(text) == it->text_len &&
	       memcmp(json_string_value(text), it->text, it->text_len) == 0;
}

/* Geoapify wants longitude first. */
static json_t *reverse_item(const job_item *it)
{
	return json_pack("[ff]", it->lon, it->lat);
}

static bool reverse_matches(const job_item *it, json_t *query)
{
	json_t *lat = json_object_get(query, "lat"), *lon = json_object_get(query, "lon");
	return json_is_number(lat) && json_is_number(lon) &&
	       fabs(json_number_value(lat) - it->lat) < 1e-6 &&
	       fabs(json_number_value(lon) - it->lon) < 1e-6;
}

const batch_fn batch_fns[CB_FN_COUNT] = {
    [CB_FN_GEOCODE] = {"/v1/batch/geocode/search", geocode_item, geocode_matches},
    [CB_FN_REVERSE] = {"/v1/batch/geocode/reverse", reverse_item, reverse_matches},
};

answer *batch_fn_parse_result(json_t *obj)
{
	json_t *lat = json_object_get(obj, "lat"), *lon = json_object_get(obj, "lon");
	json_t *formatted = json_object_get(obj, "formatted");
	json_t *type = json_object_get(obj, "result_type");
	json_t *conf = json_object_get(json_object_get(obj, "rank"), "confidence");
	double c;

	if (!json_is_number(lat) || !json_is_number(lon))
		return answer_error(CB_ENOT_FOUND, "no result for this input");
	if (json_is_number(conf))
		c = json_number_value(conf);
	return answer_result(json_number_value(lat), json_number_value(lon),
	                     json_is_string(formatted) ? json_string_value(formatted) : "",
	                     json_is_string(formatted) ? json_string_length(formatted) : 0,
	                     json_is_number(conf) ? &c : NULL,
	                     json_is_string(type) ? json_string_value(type) : NULL,
	                     json_is_string(type) ? json_string_length(type) : 0);
}

/* One answer per item from the result array (as long as the batch); never NULL entries. */
static void read_each(cb_fn fn, job_item *const *items, uint32_t n, json_t *arr, answer **ans)
{
	const batch_fn *f = &batch_fns[fn];

	for (uint32_t i = 0; i < n; i++) {
		json_t *obj = json_array_get(arr, i);
		answer *a;

		if (!json_is_object(obj))
			a = answer_error(CB_EUPSTREAM_ERROR, "upstream result %u is not an object",
			                 i);
		else if (!f->query_matches(items[i], json_object_get(obj, "query")))
			a = answer_error(CB_EUPSTREAM_ERROR,
			                 "upstream result %u does not answer this input", i);
		else
			a = batch_fn_parse_result(obj);
		ans[i] = answer_error_or_oom(a);
	}
}

/*
 * The tree is read into answers and dropped before any cell is answered:
 * answering may start other work (a submit builds JSON), which must not land
 * in the arena.
 */
batch_fn_read batch_fn_read_results(cb_fn fn, job_item *const *items, uint32_t n, const char *body,
                                    size_t len, answer **ans, size_t *got, char *cause, size_t cap)
{
	json_error_t jerr;
	bool arena = jarena_begin();
	json_t *arr = json_loadb(body, len, 0, &jerr);
	batch_fn_read rv = BATCH_FN_READ_OK;

	*got = json_is_array(arr) ? json_array_size(arr) : 0;
	if (arr == NULL) {
		snprintf(cause, cap, "upstream sent invalid JSON (%s at line %d, column %d)",
		         jerr.text, jerr.line, jerr.column);
		rv = BATCH_FN_BAD_JSON;
	} else if (*got != n) {
		rv = BATCH_FN_COUNT;
	} else {
		read_each(fn, items, n, arr, ans);
	}
	json_decref(arr);
	if (arena)
		jarena_end();
	return rv;
}
