/* cache.c: answers by key — an LRU in memory with TTLs and negative entries, backed by SQLite. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "cache.h"
#include "htab.h"
#include "list.h"
#include "log.h"

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
	char *db_path;
	sqlite3 *db;
	sqlite3_stmt *get, *put;
	bool in_tx;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS answers("
    " key BLOB PRIMARY KEY,"
    " expires_ms INTEGER NOT NULL,"
    " found INTEGER NOT NULL,"
    " lat REAL, lon REAL, formatted TEXT, confidence REAL, result_type TEXT"
    ") WITHOUT ROWID;";

/* Any database error turns the database off for good: the cache carries on in memory. */
static void db_off(cache *c, const char *what)
{
	log_warn("cache database %s: %s: %s; caching in memory only", c->db_path, what,
	         c->db ? sqlite3_errmsg(c->db) : "cannot open");
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	sqlite3_close(c->db);
	c->get = c->put = NULL;
	c->db = NULL;
	c->in_tx = false;
}

/* mkdir -p of the directory part of path, 0700: the cache holds what users looked up. */
static int make_parent(const char *path)
{
	char *dir = strdup(path), *p;
	int rv = 0;

	if (dir == NULL)
		return -1;
	for (p = dir + 1; *p && rv == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rv = -1;
		*p = '/';
	}
	free(dir);
	return rv;
}

static void db_open(cache *c)
{
	char *err = NULL;

	if (make_parent(c->db_path) != 0) {
		log_warn(
		    "cache database %s: cannot create its directory: %s; caching in memory only",
		    c->db_path, strerror(errno));
		return;
	}
	if (sqlite3_open_v2(c->db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		db_off(c, "open");
		return;
	}
	sqlite3_busy_timeout(c->db, 200);
	if (sqlite3_exec(c->db, schema, NULL, NULL, &err) != SQLITE_OK) {
		sqlite3_free(err);
		db_off(c, "schema");
		return;
	}
	if (sqlite3_prepare_v2(
	        c->db,
	        "SELECT expires_ms, found, lat, lon, formatted, confidence, result_type"
	        " FROM answers WHERE key = ?",
	        -1, &c->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
	                       "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1,
	                       &c->put, NULL) != SQLITE_OK) {
		db_off(c, "prepare");
		return;
	}
	log_info("cache database %s", c->db_path);
}

int cache_open(cache **out, const cache_config *cfg)
{
	cache *c = calloc(1, sizeof(*c));

	if (c == NULL || htab_init(&c->map) != 0) {
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	list_init(&c->lru);
	c->cfg = *cfg;
	if (cfg->db_path != NULL) {
		if ((c->db_path = strdup(cfg->db_path)) == NULL) {
			pthread_mutex_destroy(&c->mu);
			htab_fini(&c->map);
			free(c);
			return -1;
		}
		db_open(c);
	}
	*out = c;
	return 0;
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

static answer *db_get(cache *c, const char *key, size_t keylen, uint64_t now, uint64_t *expires)
{
	answer *a = NULL;
	int rc;

	if (c->db == NULL)
		return NULL;
	sqlite3_bind_blob(c->get, 1, key, (int)keylen, SQLITE_STATIC);
	rc = sqlite3_step(c->get);
	if (rc == SQLITE_ROW && (uint64_t)sqlite3_column_int64(c->get, 0) > now) {
		*expires = (uint64_t)sqlite3_column_int64(c->get, 0);
		if (sqlite3_column_int(c->get, 1)) {
			const char *f = (const char *)sqlite3_column_text(c->get, 4);
			const char *t = (const char *)sqlite3_column_text(c->get, 6);
			double conf = sqlite3_column_double(c->get, 5);
			bool has_conf = sqlite3_column_type(c->get, 5) != SQLITE_NULL;
			a = answer_result(sqlite3_column_double(c->get, 2),
			                  sqlite3_column_double(c->get, 3), f ? f : "",
			                  f ? strlen(f) : 0, has_conf ? &conf : NULL, t,
			                  t ? strlen(t) : 0);
		} else {
			a = answer_error(CB_ENOT_FOUND, "no result for this input");
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(c->get);
		db_off(c, "read");
		return NULL;
	}
	sqlite3_reset(c->get);
	return a;
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

answer *cache_get(cache *c, const char *key, size_t keylen)
{
	uint64_t now = c->cfg.now_ms(), expires = 0;
	answer *a = cache_peek(c, key, keylen);

	if (a != NULL)
		return a;
	/* the database is read and written on the loop only: no lock needed around it */
	a = db_get(c, key, keylen, now, &expires);
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
	return a;
}

void cache_begin(cache *c)
{
	if (c->db != NULL && sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		c->in_tx = true;
}

void cache_commit(cache *c)
{
	if (c->db != NULL && c->in_tx &&
	    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		db_off(c, "commit");
	c->in_tx = false;
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
	if (c->db == NULL)
		return;
	sqlite3_bind_blob(c->put, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(c->put, 2, (sqlite3_int64)expires);
	sqlite3_bind_int(c->put, 3, found);
	if (found) {
		sqlite3_bind_double(c->put, 4, a->result.lat);
		sqlite3_bind_double(c->put, 5, a->result.lon);
		sqlite3_bind_text(c->put, 6, a->result.formatted.ptr, (int)a->result.formatted.len,
		                  SQLITE_STATIC);
		if (a->result.has_confidence)
			sqlite3_bind_double(c->put, 7, a->result.confidence);
		else
			sqlite3_bind_null(c->put, 7);
		if (a->result.result_type.ptr != NULL)
			sqlite3_bind_text(c->put, 8, a->result.result_type.ptr,
			                  (int)a->result.result_type.len, SQLITE_STATIC);
		else
			sqlite3_bind_null(c->put, 8);
	} else {
		for (int i = 4; i <= 8; i++)
			sqlite3_bind_null(c->put, i);
	}
	if (sqlite3_step(c->put) != SQLITE_DONE) {
		sqlite3_reset(c->put);
		db_off(c, "write");
		return;
	}
	sqlite3_reset(c->put);
}

void cache_get_stats(cache *c, cache_stats *st)
{
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	st->entries = c->map.count;
	pthread_mutex_unlock(&c->mu);
	st->db_bytes = -1;
	if (c->db != NULL) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(c->db,
		                       "SELECT page_count * page_size FROM pragma_page_count(), "
		                       "pragma_page_size()",
		                       -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW)
				st->db_bytes = sqlite3_column_int64(q, 0);
			sqlite3_finalize(q);
		}
	}
}

const char *cache_db_path(const cache *c)
{
	return c->db != NULL ? c->db_path : NULL;
}

void cache_close(cache *c)
{
	if (c == NULL)
		return;
	cache_commit(c);
	while (!list_empty(&c->lru))
		entry_drop(c, lru_entry(list_first(&c->lru)));
	htab_fini(&c->map);
	pthread_mutex_destroy(&c->mu);
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	sqlite3_close(c->db);
	free(c->db_path);
	free(c);
}
