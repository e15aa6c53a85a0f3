/* htab.h: an intrusive hash table keyed by byte strings, grown by doubling; loop-thread only. */
#ifndef CB_HTAB_H
#define CB_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* Embed in the object stored; key memory belongs to that object and must outlive membership. */
typedef struct htab_node {
	struct htab_node *next;
	uint64_t hash;
	const char *key;
	size_t keylen;
} htab_node;

typedef struct htab {
	htab_node **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
} htab;

int htab_init(htab *h);
/* Frees the bucket array only; nodes belong to their objects. */
void htab_fini(htab *h);
uint64_t htab_hash(const char *key, size_t len);
htab_node *htab_find(const htab *h, const char *key, size_t len);
/* node->key and node->keylen must be set; duplicate keys are the caller's business. */
void htab_insert(htab *h, htab_node *node);
void htab_remove(htab *h, htab_node *node);

#endif
