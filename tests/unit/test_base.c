/* test_base.c: the pure pieces under the batcher and the cache — the text's normal form that dedup
 * and the cache key on, and the hash table both keep their entries in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unicase.h>
#include <uninorm.h>

#include "htab.h"
#include "normalize.h"

static void expect_normal(const char *in, const char *want)
{
	char out[NORMAL_MAX(256)];
	const char *t;
	size_t tl, n;

	trim(in, strlen(in), &t, &tl);
	n = normalize_text(out, t, tl);
	out[n] = '\0';
	assert_string_equal(out, want);
}

static void test_normal_form(void **state)
{
	(void)state;
	expect_normal("  221B Baker St,   LONDON \t", "221b baker st, london");
	expect_normal("\n\r\v\f", "");
	expect_normal("ÉCOLE  Militaire", "école militaire");         /* Latin-1 */
	expect_normal("ΑΘΗΝΑ", "αθηνα");                              /* Greek */
	expect_normal("МОСКВА Ёлка", "москва ёлка");                  /* Cyrillic, Ё is U+0401 */
	expect_normal("東京 TOWER", "東京 tower");                    /* other scripts kept */
	expect_normal("a×b", "a×b");                                  /* × is no letter */
	expect_normal("Ｔｏｋｙｏ　ＳＴＡＴＩＯＮ", "tokyo station"); /* NFKC: full width, U+3000 */
	expect_normal("\xc2\xa0Rue\xc2\xa0\xc2\xa0"
	              "de Rivoli\xc2\xa0",
	              "rue de rivoli"); /* NBSP */
}

/* The same normal form for both spellings, and none that is not what the pair means. */
static void expect_same(const char *a, const char *b, const char *want)
{
	expect_normal(a, want);
	expect_normal(b, want);
}

/* The pairs of issue 22, each of which went upstream twice under the old normal form. */
static void test_unicode_pairs(void **state)
{
	(void)state;
	expect_same("Caf\xc3\xa9", "Cafe\xcc\x81", "caf\xc3\xa9"); /* é composed vs e + U+0301 */
	expect_same("Łódź", "ŁÓDŹ", "łódź");
	expect_same("Αθήνα", "ΑΘΉΝΑ", "αθήνα"); /* Ή U+0389 folds to ή U+03AE */
	expect_same("Straße", "STRASSE", "strasse");
	expect_same("ǅemal", "DŽEMAL", "džemal"); /* titlecase digraph */
}

/* The ASCII fast path gives exactly what libunistring's NFKC + case folding gives. */
static void test_ascii_fast_path(void **state)
{
	char out[8];
	uint8_t want[16];

	(void)state;
	for (int c = 0x21; c < 0x7f; c++) {
		char in = (char)c;
		size_t wl = sizeof(want);
		assert_ptr_equal(
		    u8_casefold((const uint8_t *)&in, 1, NULL, UNINORM_NFKC, want, &wl), want);
		assert_int_equal(normalize_text(out, &in, 1), wl);
		assert_memory_equal(out, want, wl);
	}
}

/* Invalid UTF-8 and text that grows past the cap are keyed verbatim, behind a mark UTF-8 lacks. */
static void test_raw_keys(void **state)
{
	char out[NORMAL_MAX(64)];
	size_t n;

	(void)state;
	n = normalize_text(out, "ab\xff", 3);
	assert_int_equal(n, 4);
	assert_int_equal((unsigned char)out[0], 0xff);
	assert_memory_equal(out + 1, "ab\xff", 3);
	/* U+FDFA (3 bytes) becomes 33 bytes under NFKC: eleven of them outgrow 4 x 33 */
	{
		char in[34];
		for (int i = 0; i < 11; i++)
			memcpy(in + 3 * i, "\xef\xb7\xba", 3);
		n = normalize_text(out, in, 33);
		assert_int_equal(n, 34);
		assert_int_equal((unsigned char)out[0], 0xff);
		memset(in, 'a', 30); /* one among 30 letters grows within the cap */
		memcpy(in + 30, "\xef\xb7\xba", 3);
		n = normalize_text(out, in, 33);
		assert_int_equal(n, 30 + 33);
		assert_int_equal(out[0], 'a');
	}
}

typedef struct entry {
	htab_node node;
	char key[16];
} entry;

/* Thousands of keys through growth and removal: every lookup exact, counts right. */
static void test_htab(void **state)
{
	enum { N = 5000 };
	entry *e = calloc(N, sizeof(*e));
	htab h;

	(void)state;
	assert_int_equal(htab_init(&h), 0);
	for (int i = 0; i < N; i++) {
		snprintf(e[i].key, sizeof(e[i].key), "key-%d", i);
		e[i].node.key = e[i].key;
		e[i].node.keylen = strlen(e[i].key);
		htab_insert(&h, &e[i].node);
	}
	assert_int_equal(h.count, N);
	for (int i = 0; i < N; i += 2)
		htab_remove(&h, &e[i].node);
	assert_int_equal(h.count, N / 2);
	for (int i = 0; i < N; i++) {
		htab_node *n = htab_find(&h, e[i].key, strlen(e[i].key));
		if (i % 2 == 0)
			assert_null(n);
		else
			assert_ptr_equal(n, &e[i].node);
	}
	assert_null(htab_find(&h, "key-", 4));
	assert_int_not_equal(htab_hash("a", 1), htab_hash("b", 1));
	htab_fini(&h);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normal_form), cmocka_unit_test(test_unicode_pairs),
	    cmocka_unit_test(test_raw_keys),    cmocka_unit_test(test_ascii_fast_path),
	    cmocka_unit_test(test_htab),
	};
	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
