/* fleetjson.c: /fleet.json — the public URLs of the fleet's instances, this one first. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "excel.h"
#include "fleet.h"
#include "fleetjson.h"

static int add_unique(json_t *arr, const char *url)
{
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (strcmp(json_string_value(json_array_get(arr, i)), url) == 0)
			return 0;
	return json_array_append_new(arr, json_string(url));
}

/*
 * One report's public_url, unless it is this instance's own report (its own URL is first
 * already) or not a URL --public-url would take: read from Redis, so checked again here.
 */
static int add_instance(json_t *arr, const char *b, size_t len, const char *self)
{
	char url[512], name[256];

	if (!report_summary_url(b, len, url, sizeof(url), name, sizeof(name)) ||
	    !excel_public_url_valid(url) || (self != NULL && strcmp(name, self) == 0))
		return 0;
	return add_unique(arr, url);
}

char *fleetjson_render(const report_src *src, size_t *len)
{
	const freport *r = src->fleet ? fleet_report_c(src->fleet) : NULL;
	const char *self = src->fleet ? fshare_owner(fleet_share_c(src->fleet)) : NULL;
	json_t *doc = json_object(), *arr = json_array();
	char *out = NULL;
	int rv;

	if (doc == NULL) {
		json_decref(arr);
		return NULL;
	}
	rv = json_object_set_new(doc, "servers", arr); /* takes arr, even when it fails */

	if (rv == 0 && src->public_url != NULL)
		rv = json_array_append_new(arr, json_string(src->public_url));
	for (size_t i = 0; rv == 0 && r != NULL && i < freport_count(r); i++) {
		size_t n;
		const char *b = freport_get(r, i, &n);
		rv = add_instance(arr, b, n, self);
	}
	*len = rv == 0 ? json_dumpb(doc, NULL, 0, JSON_COMPACT) : 0;
	if (*len > 0 && (out = malloc(*len)) != NULL)
		json_dumpb(doc, out, *len, JSON_COMPACT);
	json_decref(doc);
	return out;
}
