/* results.c: a finished job's body read into one answer per item — the whole array at once, or,
 * when that fails, element by element. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jarena.h"
#include "results.h"

/* One item's answer from its result object (NULL: it could not be parsed); never NULL. */
static answer *read_one(cb_fn fn, job_item *it, json_t *obj, uint32_t i)
{
	answer *a;

	if (obj == NULL)
		a = answer_error(CB_EUPSTREAM_ERROR, "upstream result %u is not valid JSON", i);
	else if (!json_is_object(obj))
		a = answer_error(CB_EUPSTREAM_ERROR, "upstream result %u is not an object", i);
	else if (!batch_fns[fn].query_matches(it, json_object_get(obj, "query")))
		a = answer_error(CB_EUPSTREAM_ERROR,
		                 "upstream result %u does not answer this input", i);
	else
		a = batch_fn_parse_result(obj);
	return answer_error_or_oom(a);
}

/*
 * The top-level elements of a JSON array text: their offsets and lengths
 * (up to max). Returns how many there are, or -1 when the text is not one
 * whole array (cut off, or unbalanced). Strings are skipped with their
 * escapes; nothing else is checked: each element is parsed on its own.
 */
static long split_array(const char *s, size_t len, size_t *start, size_t *elen, size_t max)
{
	size_t i = 0, from = 0;
	long count = 0;
	int depth = 0;
	bool in_str = false, esc = false, empty = true;

	while (i < len && strchr(" \t\r\n", s[i]) != NULL)
		i++;
	if (i == len || s[i] != '[')
		return -1;
	for (from = ++i; i < len; i++) {
		char ch = s[i];
		if (in_str) {
			esc = !esc && ch == '\\';
			in_str = esc || ch != '"';
			continue;
		}
		if (ch == '"')
			in_str = true;
		else if (ch == '[' || ch == '{')
			depth++;
		else if ((ch == ']' || ch == '}') && depth > 0)
			depth--;
		else if (depth == 0 && (ch == ',' || ch == ']')) {
			if (ch == ']' && empty && count == 0)
				return 0;
			if ((size_t)count < max) {
				start[count] = from;
				elen[count] = i - from;
			}
			count++;
			from = i + 1;
			if (ch == ']')
				return count;
		}
		if (strchr(" \t\r\n", ch) == NULL)
			empty = false;
	}
	return -1;
}

/* The whole array did not parse: each element on its own; a broken one fails alone. */
static results_status read_split(cb_fn fn, job_item *const *items, uint32_t n, const char *body,
                                 size_t len, answer **ans, size_t *got)
{
	size_t *start = malloc((n + 1) * sizeof(*start)), *elen = malloc((n + 1) * sizeof(*elen));
	long count = start && elen ? split_array(body, len, start, elen, n + 1) : 0;
	results_status rv = RESULTS_OK;

	if (start == NULL || elen == NULL)
		rv = RESULTS_NOMEM;
	else if (count < 0)
		rv = RESULTS_TRUNCATED;
	else if ((size_t)count != n)
		rv = RESULTS_COUNT;
	*got = count > 0 ? (size_t)count : 0;
	for (uint32_t i = 0; rv == RESULTS_OK && i < n; i++) {
		json_t *obj = json_loadb(body + start[i], elen[i], JSON_ALLOW_NUL, NULL);
		ans[i] = read_one(fn, items[i], obj, i);
		json_decref(obj);
	}
	free(start);
	free(elen);
	return rv;
}

/*
 * The trees are read into answers and dropped before any cell is answered:
 * answering may start other work (a submit builds JSON), which must not land
 * in the arena.
 */
results_status results_read(cb_fn fn, job_item *const *items, uint32_t n, const char *body,
                            size_t len, answer **ans, size_t *got, char *cause, size_t cap)
{
	json_error_t jerr;
	bool arena = jarena_begin();
	json_t *arr = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
	results_status rv = RESULTS_OK;

	*got = json_is_array(arr) ? json_array_size(arr) : 0;
	if (arr == NULL) {
		rv = read_split(fn, items, n, body, len, ans, got);
		if (rv == RESULTS_TRUNCATED)
			snprintf(cause, cap,
			         "upstream sent invalid JSON (%s at line %d, column %d)", jerr.text,
			         jerr.line, jerr.column);
	} else if (*got != n) {
		rv = RESULTS_COUNT;
	} else {
		for (uint32_t i = 0; i < n; i++)
			ans[i] = read_one(fn, items[i], json_array_get(arr, i), i);
	}
	json_decref(arr);
	if (arena)
		jarena_end();
	return rv;
}
