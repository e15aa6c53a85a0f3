/* jarena.c: jansson's allocations while one upstream answer is parsed, in a few blocks freed at
 * once. */
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <jansson.h>

#include "jarena.h"

/*
 * Why: 1,000 results are ~10,000 small jansson values, each a malloc on
 * parse and a free on decref, and under a 10,000-cell burst the loop spent
 * 20-30 ms per job in them (BENCHMARKS.md, (b)). A parse tree lives exactly
 * from json_loadb to json_decref, so bump allocation fits it.
 *
 * Blocks are mapped, not malloc'd: the answers made while the tree is read
 * are malloc'd and long-lived, and a malloc'd block below them could not go
 * back to the system until the loop's trim timer (a test saw RSS 2.6 MB up
 * right after a job); a mapping goes back at jarena_end.
 */
#define BLOCK_SIZE (256 * 1024)
#define ALIGN      16

typedef struct block {
	struct block *next;
	size_t size, used;
	max_align_t data[]; /* aligned start */
} block;

static struct {
	bool active;
	block *blocks; /* newest first */
	unsigned long used;
} A;

static block *block_new(size_t want)
{
	size_t size = want > BLOCK_SIZE ? want : BLOCK_SIZE;
	block *b = mmap(NULL, sizeof(*b) + size, PROT_READ | PROT_WRITE,
	                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		return NULL;
	b->size = size;
	b->used = 0;
	b->next = A.blocks;
	A.blocks = b;
	return b;
}

static void *arena_malloc(size_t n)
{
	block *b = A.blocks;
	size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);

	if (!A.active)
		return malloc(n);
	if (b == NULL || b->size - b->used < need) {
		if ((b = block_new(need)) == NULL)
			return NULL; /* jansson reports out of memory */
	}
	A.used += need;
	b->used += need;
	return (char *)b->data + b->used - need;
}

static bool in_arena(const void *p)
{
	for (const block *b = A.blocks; b != NULL; b = b->next)
		if ((const char *)p >= (const char *)b->data &&
		    (const char *)p < (const char *)b->data + b->size)
			return true;
	return false;
}

static void arena_free(void *p)
{
	/* a value made before begin may be freed in between: that one is malloc's */
	if (A.active && in_arena(p))
		return;
	free(p);
}

void jarena_install(void)
{
	json_set_alloc_funcs(arena_malloc, arena_free);
}

bool jarena_begin(void)
{
	A.used = 0;
	if (A.blocks == NULL && block_new(BLOCK_SIZE) == NULL)
		return false;
	A.active = true;
	return true;
}

void jarena_end(void)
{
	block *b = A.blocks;

	A.active = false;
	/* keep no block: the memory goes back between jobs */
	while (b != NULL) {
		block *next = b->next;
		munmap(b, sizeof(*b) + b->size);
		b = next;
	}
	A.blocks = NULL;
}

unsigned long jarena_used(void)
{
	return A.used;
}
