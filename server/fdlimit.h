/* fdlimit.h: file descriptors — the limit raised at start, the connection cap derived from it, and
 * one counter for every EMFILE/ENFILE seen anywhere in the server. */
#ifndef CB_FDLIMIT_H
#define CB_FDLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force. */
size_t fdlimit_raise(void);

/*
 * Connections that fit in nofile descriptors beside what the server needs for
 * itself: nng's poller and listeners, the loop, curl's upstream connections
 * (up to two per job slot) and the cache database.
 */
size_t fdlimit_max_conns(size_t nofile, unsigned max_jobs);

/*
 * Notes that err (an errno) happened in where; EMFILE and ENFILE are counted
 * and logged as descriptor exhaustion (first, then every 100th). Returns true
 * for those two. Any thread.
 */
int fdlimit_note(int err, const char *where);

/* How many times descriptors ran out. Any thread. */
uint64_t fdlimit_exhausted(void);

#endif
