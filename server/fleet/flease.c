/* flease.c: the leases one instance holds on items, renewed while it lives (flease.h). */
#include "flease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RENEW_CHUNK 500

/* KEYS: leases. ARGV: owner, lease ms. Only the owner's are renewed: one that expired and was
 * taken over belongs to another instance now. */
static const char renew_lua[] = "for i = 1, #KEYS do\n"
                                "  if redis.call('GET', KEYS[i]) == ARGV[1] then\n"
                                "    redis.call('PEXPIRE', KEYS[i], ARGV[2])\n"
                                "  end\n"
                                "end\n"
                                "return 0\n";

typedef struct lease {
	htab_node node;
	char key[];
} lease;

char *flease_key(const char *pfx, const char *key, size_t keylen)
{
	size_t pl = strlen(pfx);
	char *k = malloc(pl + keylen + 1);

	if (k != NULL) {
		memcpy(k, pfx, pl);
		memcpy(k + pl, key, keylen);
		k[pl + keylen] = '\0';
	}
	return k;
}

int flease_init(flease_set *s, rconn *cmd, const char *owner, const char *lease_ms,
                const char *prefix)
{
	*s = (flease_set){.cmd = cmd, .owner = owner, .lease_ms = lease_ms, .prefix = prefix};
	s->prefix_len = strlen(prefix);
	return htab_init(&s->held);
}

void flease_fini(flease_set *s)
{
	for (size_t b = 0; b < s->held.nbuckets; b++)
		for (htab_node *n = s->held.buckets[b], *next; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	htab_fini(&s->held);
}

void flease_hold(flease_set *s, const char *key, size_t keylen)
{
	lease *l;

	if (htab_find(&s->held, key, keylen) != NULL || (l = malloc(sizeof(*l) + keylen)) == NULL)
		return;
	memcpy(l->key, key, keylen);
	l->node.key = l->key;
	l->node.keylen = keylen;
	htab_insert(&s->held, &l->node);
}

void flease_drop(flease_set *s, const char *key, size_t keylen)
{
	htab_node *n = htab_find(&s->held, key, keylen);

	if (n != NULL) {
		htab_remove(&s->held, n);
		free(n);
	}
}

static void flease_ignore_cb(void *arg, const redisReply *r, const char *err)
{
	(void)arg, (void)r, (void)err; /* a lost renewal: the next one comes a third of a TTL on */
}

/* One command renewing n leases (keys already prefixed). */
static void renew_chunk(flease_set *s, char **keys, const size_t *keylens, size_t n)
{
	const char *argv[RENEW_CHUNK + 5] = {"EVAL", renew_lua};
	size_t lens[RENEW_CHUNK + 5] = {4, sizeof(renew_lua) - 1};
	char nkeys[24];

	snprintf(nkeys, sizeof(nkeys), "%zu", n);
	argv[2] = nkeys;
	lens[2] = strlen(nkeys);
	for (size_t i = 0; i < n; i++) {
		argv[3 + i] = keys[i];
		lens[3 + i] = keylens[i];
	}
	argv[3 + n] = s->owner;
	lens[3 + n] = strlen(s->owner);
	argv[4 + n] = s->lease_ms;
	lens[4 + n] = strlen(s->lease_ms);
	rconn_command(s->cmd, flease_ignore_cb, NULL, (int)n + 5, argv, lens);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
}

void flease_renew(flease_set *s)
{
	char *keys[RENEW_CHUNK];
	size_t lens[RENEW_CHUNK], n = 0;

	for (size_t b = 0; b < s->held.nbuckets; b++) {
		for (htab_node *h = s->held.buckets[b]; h != NULL; h = h->next) {
			if ((keys[n] = flease_key(s->prefix, h->key, h->keylen)) == NULL)
				continue;
			lens[n++] = s->prefix_len + h->keylen;
			if (n == RENEW_CHUNK) {
				renew_chunk(s, keys, lens, n);
				n = 0;
			}
		}
	}
	if (n > 0)
		renew_chunk(s, keys, lens, n);
}
