/* cache.c: answers by key — an LRU in memory with TTLs and negative entries, backed by SQLite
 * through store.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "htab.h"
#include "list.h"
#include "store.h"

typedef struct centry {
	htab_node node; /* first: the table hands back nodes */
	list_node lru;  /* in cache.lru: the first is the most recent */
	uint64_t expires_ms;
	answer *a;
	size_t keylen;
	char key[];
} centry;

struct cache {
	cache_config cfg;
	/* guards the memory part (map, LRU, st): cache_peek runs on nng threads; the
	 * database is the loop's alone */
	pthread_mutex_t mu;
	htab map;
	list_node lru; /* of centry */
	cache_stats st;
	store *db; /* NULL: memory only by configuration */
};

/*
 * A second server's batch commits in milliseconds; 2 s covers its checkpoint
 * too. The wait blocks the loop thread (SQLite sleeps in the call): backoff
 * keeps that to one wait per retry while a lock is held longer.
 */
#define BUSY_TIMEOUT_MS 2000

int cache_open(cache **out, const cache_config *cfg)
{
	int busy = cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : BUSY_TIMEOUT_MS;
	cache *c = calloc(1, sizeof(*c));
	bool map = false;

	if (c == NULL || !(map = htab_init(&c->map) == 0))
		goto fail;
	c->cfg = *cfg;
	c->cfg.db_path = NULL; /* the caller's string: the store keeps its own copy */
	if (cfg->db_path != NULL && (c->db = store_open(cfg->db_path, cfg->now_ms, busy)) == NULL)
		goto fail;
	pthread_mutex_init(&c->mu, NULL);
	list_init(&c->lru);
	*out = c;
	return 0;
fail:
	if (map)
		htab_fini(&c->map);
	free(c);
	return -1;
}

static void lru_unlink(cache *c, centry *e)
{
	(void)c;
	list_remove(&e->lru);
}

static void lru_push_front(cache *c, centry *e)
{
	list_push_front(&c->lru, &e->lru);
}

static centry *lru_entry(list_node *n)
{
	return n != NULL ? list_entry(n, centry, lru) : NULL;
}

static void entry_drop(cache *c, centry *e)
{
	lru_unlink(c, e);
	htab_remove(&c->map, &e->node);
	answer_unref(e->a);
	free(e);
}

/* Adds or replaces key in memory; evicts from the cold end past max_entries. */
static void mem_put(cache *c, const char *key, size_t keylen, answer *a, uint64_t expires)
{
	htab_node *n = htab_find(&c->map, key, keylen);
	centry *e;

	if (n != NULL)
		entry_drop(c, (centry *)n);
	if ((e = malloc(sizeof(*e) + keylen)) == NULL)
		return; /* only the cache's own memory is short: forget this one */
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	e->node.key = e->key;
	e->node.keylen = keylen;
	e->expires_ms = expires;
	e->a = answer_ref(a);
	htab_insert(&c->map, &e->node);
	lru_push_front(c, e);
	while (c->map.count > c->cfg.max_entries && !list_empty(&c->lru)) {
		entry_drop(c, lru_entry(list_last(&c->lru)));
		c->st.evictions++;
	}
}

/* The memory part of a lookup; _mu held. A hit is promoted and counted; an expired entry goes. */
static answer *mem_get(cache *c, const char *key, size_t keylen, uint64_t now)
{
	htab_node *n = htab_find(&c->map, key, keylen);
	centry *e = (centry *)n;

	if (n == NULL)
		return NULL;
	if (e->expires_ms <= now) {
		entry_drop(c, e); /* the database row has the same expiry */
		return NULL;
	}
	lru_unlink(c, e);
	lru_push_front(c, e);
	if (e->a->err == CB_OK)
		c->st.hits++;
	else
		c->st.neg_hits++;
	return answer_ref(e->a);
}

answer *cache_peek(cache *c, const char *key, size_t keylen)
{
	uint64_t now = c->cfg.now_ms();
	answer *a;

	pthread_mutex_lock(&c->mu);
	a = mem_get(c, key, keylen, now);
	pthread_mutex_unlock(&c->mu);
	return a;
}

answer *cache_get_db(cache *c, const char *key, size_t keylen, uint64_t *expires_ms)
{
	uint64_t now = c->cfg.now_ms(), expires = 0;
	/* the database is read and written on the loop only: no lock needed around it */
	answer *a = c->db != NULL ? store_get(c->db, key, keylen, now, &expires) : NULL;

	pthread_mutex_lock(&c->mu);
	if (a != NULL) {
		c->st.db_hits++;
		if (a->err == CB_OK)
			c->st.hits++;
		else
			c->st.neg_hits++;
		mem_put(c, key, keylen, a, expires);
	} else {
		c->st.misses++;
	}
	pthread_mutex_unlock(&c->mu);
	if (expires_ms != NULL)
		*expires_ms = expires;
	return a;
}

answer *cache_get(cache *c, const char *key, size_t keylen)
{
	answer *a = cache_peek(c, key, keylen);

	return a != NULL ? a : cache_get_db(c, key, keylen, NULL);
}

void cache_count_miss(cache *c)
{
	pthread_mutex_lock(&c->mu);
	c->st.misses++;
	pthread_mutex_unlock(&c->mu);
}

void cache_begin(cache *c)
{
	(void)c; /* the rows wait in the store until cache_commit writes them in one transaction */
}

void cache_commit(cache *c)
{
	if (c->db != NULL)
		store_flush(c->db);
}

uint64_t cache_expiry(const cache *c, const answer *a)
{
	if (a->err != CB_OK && a->err != CB_ENOT_FOUND)
		return 0;
	return c->cfg.now_ms() + (a->err == CB_OK ? c->cfg.ttl_ms : c->cfg.neg_ttl_ms);
}

void cache_put(cache *c, const char *key, size_t keylen, answer *a)
{
	uint64_t expires;
	bool found = a->err == CB_OK;

	if (!found && a->err != CB_ENOT_FOUND)
		return;
	expires = c->cfg.now_ms() + (found ? c->cfg.ttl_ms : c->cfg.neg_ttl_ms);
	pthread_mutex_lock(&c->mu);
	mem_put(c, key, keylen, a, expires);
	pthread_mutex_unlock(&c->mu);
	if (c->db != NULL)
		store_add(c->db, key, keylen, a, expires);
}

void cache_get_stats(cache *c, cache_stats *st)
{
	store_counters sc;

	pthread_mutex_lock(&c->mu);
	*st = c->st;
	st->entries = c->map.count;
	pthread_mutex_unlock(&c->mu);
	st->db_bytes = -1;
	st->db_state = CACHE_DB_OFF;
	if (c->db == NULL)
		return;
	store_get_counters(c->db, &sc);
	st->db_bytes = store_bytes(c->db);
	st->corrupt = sc.corrupt;
	st->unverified = sc.unverified;
	st->expired_deleted = sc.expired_deleted;
	st->db_errors = sc.errors;
	st->db_written = sc.written;
	st->db_unwritten = sc.unwritten;
	st->db_dropped = sc.dropped;
	st->db_state = sc.state == STORE_OK ? CACHE_DB_OK : CACHE_DB_BACKOFF;
}

const char *cache_db_path(const cache *c)
{
	return c->db != NULL ? store_path(c->db) : NULL;
}

const char *cache_db_state_name(cache_db_state st)
{
	static const char *const names[] = {"off", "ok", "backoff"};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

void cache_close(cache *c)
{
	if (c == NULL)
		return;
	store_close(c->db); /* writes what still waits */
	while (!list_empty(&c->lru))
		entry_drop(c, lru_entry(list_first(&c->lru)));
	htab_fini(&c->map);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
