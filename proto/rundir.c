/* rundir.c: /tmp/cellbatch-$UID, the default socket's directory when XDG_RUNTIME_DIR is unset —
 * the caller's own and closed to others, so that no other user can squat the default path. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cbproto.h"

const char *cbp_rundir(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/cellbatch-%u", (unsigned)geteuid());
	return buf;
}

int cbp_rundir_verdict(const char *dir, const struct stat *st, uid_t uid, char *why, size_t cap)
{
	if (!S_ISDIR(st->st_mode))
		snprintf(why, cap, "%s is not a directory (a symbolic link or a file is refused)",
		         dir);
	else if (st->st_uid != uid)
		snprintf(why, cap,
		         "%s belongs to uid %u, not to uid %u: another user may be squatting the "
		         "default socket; remove it, or give --listen/--url or XDG_RUNTIME_DIR",
		         dir, (unsigned)st->st_uid, (unsigned)uid);
	else if ((st->st_mode & 077) != 0)
		snprintf(why, cap,
		         "%s is open to group or others (mode %03o): chmod 700 it, or remove it",
		         dir, (unsigned)(st->st_mode & 0777));
	else
		return 0;
	return -1;
}

int cbp_rundir_check(const char *url, int create, char *why, size_t cap)
{
	char dir[64], prefix[80];
	struct stat st;

	cbp_rundir(dir, sizeof(dir));
	snprintf(prefix, sizeof(prefix), "ipc://%s/", dir);
	if (strncmp(url, prefix, strlen(prefix)) != 0)
		return 0; /* not in the default directory: the user chose the path */
	if (lstat(dir, &st) != 0 && errno == ENOENT) {
		if (!create)
			return 0; /* nothing listens there: the dial says so */
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(why, cap, "cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	/* checked after a mkdir too: another user may have won the race to create it */
	if (lstat(dir, &st) != 0) {
		snprintf(why, cap, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return cbp_rundir_verdict(dir, &st, geteuid(), why, cap);
}
