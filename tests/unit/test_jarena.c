/* test_jarena.c: jansson's values inside begin/end come from the arena and leave with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jarena.h"

static int setup(void **state)
{
	(void)state;
	jarena_install();
	return 0;
}

/* A tree parsed in the arena reads back whole and costs the arena, not malloc. */
static void a_tree_parsed_in_the_arena(void **state)
{
	const char *doc = "[{\"query\":{\"text\":\"1 Main St\"},\"lat\":51.5,\"lon\":-0.12,"
	                  "\"formatted\":\"1 Main Street, London\"},{\"query\":{\"text\":\"x\"}}]";
	json_t *arr;
	(void)state;

	assert_true(jarena_begin());
	arr = json_loads(doc, 0, NULL);
	assert_non_null(arr);
	assert_true(jarena_used() > 0);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "formatted")),
	                    "1 Main Street, London");
	assert_float_equal(json_number_value(json_object_get(json_array_get(arr, 0), "lon")), -0.12,
	                   1e-12);
	json_decref(arr);
	jarena_end();
}

/* Bigger than a block: the arena takes more blocks, and everything is still readable. */
static void a_tree_bigger_than_a_block(void **state)
{
	json_t *arr, *back;
	char *text;
	(void)state;

	arr = json_array();
	for (int i = 0; i < 20000; i++)
		json_array_append_new(arr, json_pack("{s:i, s:s}", "n", i, "text", "some address"));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	assert_non_null(text);

	assert_true(jarena_begin());
	back = json_loads(text, 0, NULL);
	assert_non_null(back);
	assert_true(jarena_used() > 256 * 1024);
	assert_int_equal(json_array_size(back), 20000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(back, 19999), "n")),
	                 19999);
	json_decref(back);
	jarena_end();
	free(text); /* made by malloc outside the arena: plain free */
}

/*
 * A value made before begin and freed in between is malloc's and really
 * freed (under ASan a leak or a bad free would fail this), values made after
 * end are malloc's again.
 */
static void values_outside_the_arena_are_mallocs(void **state)
{
	json_t *before = json_string("made before"), *inside, *after;
	unsigned long used;
	(void)state;

	assert_true(jarena_begin());
	assert_int_equal(jarena_used(), 0);
	json_decref(before);
	inside = json_string("made inside");
	used = jarena_used();
	assert_true(used > 0);
	json_decref(inside);
	jarena_end();
	after = json_string("made after");
	assert_non_null(after);
	assert_int_equal(jarena_used(), used); /* "after" did not come from the arena */
	json_decref(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_tree_parsed_in_the_arena),
	    cmocka_unit_test(a_tree_bigger_than_a_block),
	    cmocka_unit_test(values_outside_the_arena_are_mallocs),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
