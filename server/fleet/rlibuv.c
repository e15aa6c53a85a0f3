/* rlibuv.c: a hiredis 0.14 async context on a libuv loop (rlibuv.h says why not Debian's). */
#include "rlibuv.h"

#include <stdlib.h>

typedef struct rlibuv {
	redisAsyncContext *ac; /* NULL once hiredis cleaned up: never touch it again */
	uv_poll_t poll;
	int events;
} rlibuv;

static void rlibuv_poll_cb(uv_poll_t *h, int status, int events)
{
	rlibuv *p = h->data;

	/* A poll error (a reset, EBADF): hiredis finds the socket's error itself when it tries
	 * both ways, and disconnects; ignoring it, as Debian's adapter does, hangs the context. */
	if (status < 0)
		events = UV_READABLE | UV_WRITABLE;
	/* write first: a read that fails frees the context (cleanup then clears p->ac) */
	if (p->ac != NULL && (events & UV_WRITABLE))
		redisAsyncHandleWrite(p->ac);
	if (p->ac != NULL && (events & UV_READABLE))
		redisAsyncHandleRead(p->ac);
}

static void rlibuv_update(rlibuv *p, int add, int del)
{
	p->events = (p->events | add) & ~del;
	if (p->events != 0)
		uv_poll_start(&p->poll, p->events, rlibuv_poll_cb);
	else
		uv_poll_stop(&p->poll);
}

static void rlibuv_add_read(void *d)
{
	rlibuv_update(d, UV_READABLE, 0);
}

static void rlibuv_del_read(void *d)
{
	rlibuv_update(d, 0, UV_READABLE);
}

static void rlibuv_add_write(void *d)
{
	rlibuv_update(d, UV_WRITABLE, 0);
}

static void rlibuv_del_write(void *d)
{
	rlibuv_update(d, 0, UV_WRITABLE);
}

static void rlibuv_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

/* hiredis frees the context (and closes its socket) right after this. */
static void rlibuv_cleanup(void *d)
{
	rlibuv *p = d;

	p->ac = NULL;
	uv_close((uv_handle_t *)&p->poll, rlibuv_closed_cb);
}

int rlibuv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	rlibuv *p;

	if (ac->ev.data != NULL || (p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
		free(p);
		return -1;
	}
	/* the hooks only once the handle exists, so that a failed attach leaves no cleanup */
	p->ac = ac;
	p->poll.data = p;
	ac->ev.data = p;
	ac->ev.addRead = rlibuv_add_read;
	ac->ev.delRead = rlibuv_del_read;
	ac->ev.addWrite = rlibuv_add_write;
	ac->ev.delWrite = rlibuv_del_write;
	ac->ev.cleanup = rlibuv_cleanup;
	return 0;
}
