/* heap.h: an intrusive binary min-heap keyed by a uint64_t (the call deadlines). Loop thread. */
#ifndef CB_HEAP_H
#define CB_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* Embed in the object kept; idx is SIZE_MAX while it is not in a heap. */
typedef struct heap_node {
	uint64_t key;
	size_t idx;
} heap_node;

typedef struct heap {
	heap_node **v;
	size_t n, cap;
} heap;

/* A node outside any heap. */
#define HEAP_NODE_INIT(k) ((heap_node){.key = (k), .idx = SIZE_MAX})

/* Adds x (its key set); 0, or -1 when out of memory (then x is not in h). */
int heap_push(heap *h, heap_node *x);
/* Takes x out; nothing when it is not in h. */
void heap_remove(heap *h, heap_node *x);
/* The node with the smallest key, NULL when h is empty. */
heap_node *heap_min(const heap *h);
/* Frees the array; the nodes belong to their objects. */
void heap_fini(heap *h);

#endif
