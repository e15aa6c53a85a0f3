/* functions.c: the table of upstream batch functions — one entry per protocol fn. */
#include <math.h>
#include <string.h>

#include "functions.h"

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
	/* parsed with JSON_ALLOW_NUL so that one such item cannot sink its batch */
	if ((json_is_string(formatted) &&
	     strlen(json_string_value(formatted)) != json_string_length(formatted)) ||
	    (json_is_string(type) && strlen(json_string_value(type)) != json_string_length(type)))
		return answer_error(CB_EUPSTREAM_ERROR, "upstream result carries a NUL character");
	if (json_is_number(conf))
		c = json_number_value(conf);
	return answer_result(json_number_value(lat), json_number_value(lon),
	                     json_is_string(formatted) ? json_string_value(formatted) : "",
	                     json_is_string(formatted) ? json_string_length(formatted) : 0,
	                     json_is_number(conf) ? &c : NULL,
	                     json_is_string(type) ? json_string_value(type) : NULL,
	                     json_is_string(type) ? json_string_length(type) : 0);
}
