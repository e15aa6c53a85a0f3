/* test_heap.c: the deadline heap against a plain array — random pushes, removals from anywhere and
 * pops always give the smallest key, and every node knows its place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

#define N 2000

static void check_places(const heap *h)
{
	for (size_t i = 0; i < h->n; i++) {
		assert_int_equal(h->v[i]->idx, i);
		if (i > 0)
			assert_true(h->v[(i - 1) / 2]->key <= h->v[i]->key);
	}
}

static void test_against_an_array(void **state)
{
	static heap_node nodes[N];
	static int in[N];
	heap h = {0};
	unsigned seed = 12345;

	(void)state;
	for (int i = 0; i < N; i++)
		nodes[i] = HEAP_NODE_INIT((uint64_t)(rand_r(&seed) % 500)); /* many equal keys */
	for (int step = 0; step < 20000; step++) {
		int i = rand_r(&seed) % N, op = rand_r(&seed) % 3;
		if (op == 0 && !in[i]) {
			assert_int_equal(heap_push(&h, &nodes[i]), 0);
			in[i] = 1;
		} else if (op == 1 && in[i]) {
			heap_remove(&h, &nodes[i]);
			assert_int_equal(nodes[i].idx, SIZE_MAX);
			in[i] = 0;
		} else if (op == 2 && h.n > 0) {
			heap_node *m = heap_min(&h);
			for (int j = 0; j < N; j++)
				if (in[j])
					assert_true(m->key <= nodes[j].key);
			in[m - nodes] = 0;
			heap_remove(&h, m);
		}
		if (step % 1000 == 0)
			check_places(&h);
	}
	heap_remove(&h, &HEAP_NODE_INIT(1)); /* not in it: nothing happens */
	check_places(&h);
	heap_fini(&h);
	assert_null(heap_min(&h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_against_an_array),
	};
	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
