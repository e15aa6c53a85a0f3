/* fdlimit.c: file descriptors — the limit raised at start, the connection cap derived from it, and
 * one counter for every EMFILE/ENFILE seen anywhere in the server. */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"
#include "log.h"

/* What the server itself holds open, beside client connections and upstream sockets. */
#define FD_RESERVE 48

static uint64_t exhausted; /* __atomic */

size_t fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		/* an unlimited hard limit is not a valid soft one for descriptors */
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20))
			rl.rlim_cur = 1u << 20;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the descriptor limit from %llu: %s",
			         (unsigned long long)old, strerror(errno));
			rl.rlim_cur = old;
		}
	}
	return (size_t)rl.rlim_cur;
}

size_t fdlimit_max_conns(size_t nofile, unsigned max_jobs)
{
	size_t reserve = FD_RESERVE + 2 * (size_t)max_jobs;

	return nofile > reserve + 16 ? nofile - reserve : 16;
}

int fdlimit_note(int err, const char *where)
{
	uint64_t n;

	if (err != EMFILE && err != ENFILE)
		return 0;
	n = __atomic_add_fetch(&exhausted, 1, __ATOMIC_RELAXED);
	if (n % 100 == 1)
		log_error("out of file descriptors (%s) in %s; %llu times so far: raise the limit "
		          "(ulimit -n) or lower --max-conns",
		          err == EMFILE ? "EMFILE, this process" : "ENFILE, the whole system",
		          where, (unsigned long long)n);
	return 1;
}

uint64_t fdlimit_exhausted(void)
{
	return __atomic_load_n(&exhausted, __ATOMIC_RELAXED);
}
