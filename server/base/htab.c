/* htab.c: an intrusive hash table keyed by byte strings, grown by doubling; loop-thread only. */
#include <stdlib.h>
#include <string.h>

#include "htab.h"

int htab_init(htab *h)
{
	h->nbuckets = 64;
	h->count = 0;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	return h->buckets == NULL ? -1 : 0;
}

void htab_fini(htab *h)
{
	free(h->buckets);
	h->buckets = NULL;
	h->nbuckets = h->count = 0;
}

/* FNV-1a: short keys, no adversary who can choose collisions cheaply enough to matter here. */
uint64_t htab_hash(const char *key, size_t len)
{
	uint64_t x = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		x ^= (unsigned char)key[i];
		x *= 1099511628211ull;
	}
	return x;
}

htab_node *htab_find(const htab *h, const char *key, size_t len)
{
	uint64_t hv = htab_hash(key, len);
	for (htab_node *n = h->buckets[hv & (h->nbuckets - 1)]; n != NULL; n = n->next)
		if (n->hash == hv && n->keylen == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static int grow(htab *h)
{
	size_t nb = h->nbuckets * 2;
	htab_node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return -1;
	for (size_t i = 0; i < h->nbuckets; i++) {
		htab_node *n = h->buckets[i];
		while (n != NULL) {
			htab_node *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = nb;
	return 0;
}

void htab_insert(htab *h, htab_node *node)
{
	htab_node **slot;

	/* a failed grow only costs speed, so carry on */
	if (h->count >= h->nbuckets)
		(void)grow(h);
	node->hash = htab_hash(node->key, node->keylen);
	slot = &h->buckets[node->hash & (h->nbuckets - 1)];
	node->next = *slot;
	*slot = node;
	h->count++;
}

void htab_remove(htab *h, htab_node *node)
{
	htab_node **p = &h->buckets[node->hash & (h->nbuckets - 1)];
	while (*p != NULL && *p != node)
		p = &(*p)->next;
	if (*p == node) {
		*p = node->next;
		h->count--;
	}
}
