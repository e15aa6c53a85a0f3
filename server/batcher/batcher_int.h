/* batcher_int.h: the batcher's own structs and helpers, shared by batcher.c (calls and items)
 * and resume.c (jobs taken up from the journal at start); private to batcher/. */
#ifndef CB_BATCHER_INT_H
#define CB_BATCHER_INT_H

#include "batcher.h"
#include "htab.h"
#include "list.h"
#include "window.h"
#include "btypes.h"
#include "claim.h"
#include "item.h"

/* Writes the group key of (fn, o) to out (BATCHER_KEY_MAX) and returns its length. Pure. */
size_t batcher_group_key(char *out, cb_fn fn, const cb_opts *o);
/* The group of key (made for call's fn and options when new); NULL without memory. */
group *batcher_group_get(batcher *bt, const cb_wire_call *call, const char *key, size_t keylen);

/*
 * Ends b with a (borrowed) whatever its state: items not yet upstream are
 * answered here, a job upstream reports its own.
 */
void batcher_fail_batch(batcher *bt, batch *b, answer *a);

#endif
