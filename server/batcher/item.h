/* item.h: the batcher's items — made, put into their group's open batch, answered (item.c). */
#ifndef CB_ITEM_H
#define CB_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "btypes.h"
#include "cbproto.h"

/* A new item (not in any table or batch) for key and text; NULL without memory. */
item *batcher_item_new(const cb_wire_call *call, const char *key, size_t keylen, const char *text,
                       size_t text_len);

/* Puts it (made for its group, in bt->items, with its waiters) into its group's open batch, which
 * may leave at batch-max; false without memory (it then is in no batch). */
bool batcher_item_enqueue(batcher *bt, item *it);
/* Answers every waiter of it with a (borrowed; cached: from a cache), takes it out of the dedup
 * table and frees it. */
void batcher_item_answer(batcher *bt, item *it, answer *a, bool cached);

#endif
