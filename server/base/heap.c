/* heap.c: an intrusive binary min-heap keyed by a uint64_t (the call deadlines). Loop thread. */
#include <stdlib.h>

#include "heap.h"

static void put(heap *h, size_t i, heap_node *x)
{
	h->v[i] = x;
	x->idx = i;
}

static void up(heap *h, size_t i)
{
	heap_node *x = h->v[i];

	while (i > 0 && h->v[(i - 1) / 2]->key > x->key) {
		put(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	put(h, i, x);
}

static void down(heap *h, size_t i)
{
	heap_node *x = h->v[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;
		if (l >= h->n)
			break;
		if (r < h->n && h->v[r]->key < h->v[l]->key)
			m = r;
		if (h->v[m]->key >= x->key)
			break;
		put(h, i, h->v[m]);
		i = m;
	}
	put(h, i, x);
}

int heap_push(heap *h, heap_node *x)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		heap_node **v = realloc(h->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	put(h, h->n++, x);
	up(h, x->idx);
	return 0;
}

void heap_remove(heap *h, heap_node *x)
{
	size_t i = x->idx;
	heap_node *last;

	if (i == SIZE_MAX || i >= h->n || h->v[i] != x)
		return;
	x->idx = SIZE_MAX;
	if (i == --h->n)
		return;
	/* the last node fills the hole, then moves whichever way its key says */
	last = h->v[h->n];
	put(h, i, last);
	up(h, i);
	down(h, last->idx);
}

heap_node *heap_min(const heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

void heap_fini(heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
