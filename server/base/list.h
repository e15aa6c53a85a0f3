/* list.h: one intrusive doubly linked list (circular, with a head node) for every queue in the
 * server. */
#ifndef CB_LIST_H
#define CB_LIST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Embed in the object listed. A node links to itself while it is in no list,
 * so that list_linked() answers without a flag and list_remove() of an
 * unlinked node is harmless. The list owns nothing: nodes belong to their
 * objects. Not thread-safe: every list here is the loop thread's.
 */
typedef struct list_node {
	struct list_node *prev, *next;
} list_node;

/* The object that embeds node n as member m. */
#define list_entry(n, type, m) ((type *)((char *)(n)-offsetof(type, m)))

/* Makes n an empty list, or a node in none. */
static inline void list_init(list_node *n)
{
	n->prev = n->next = n;
}

static inline bool list_empty(const list_node *l)
{
	return l->next == l;
}

static inline bool list_linked(const list_node *n)
{
	return n->next != n;
}

/* Appends n (in no list) to l. */
static inline void list_push_back(list_node *l, list_node *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

/* Puts n (in no list) first in l. */
static inline void list_push_front(list_node *l, list_node *n)
{
	list_push_back(l->next, n);
}

/* Takes n out of its list, if any. */
static inline void list_remove(list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

/* The first node of l, NULL when l is empty. */
static inline list_node *list_first(const list_node *l)
{
	return l->next != l ? l->next : NULL;
}

/* The last node of l, NULL when l is empty. */
static inline list_node *list_last(const list_node *l)
{
	return l->prev != l ? l->prev : NULL;
}

/* Takes the first node out of l and returns it; NULL when l is empty. */
static inline list_node *list_pop_front(list_node *l)
{
	list_node *n = list_first(l);
	if (n != NULL)
		list_remove(n);
	return n;
}

/* Visits every node of l; n may be removed inside the loop body (tmp holds the next). */
#define list_each_safe(l, n, tmp)                                                                  \
	for (n = (l)->next, tmp = n->next; n != (l); n = tmp, tmp = n->next)

#endif
