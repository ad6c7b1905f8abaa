/* Reading a small file whole: see readfile.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"
#include "xmalloc.h"

static void release(char *buf, size_t cap, unsigned flags)
{
	if (buf && (flags & READ_FILE_SECRET))
		explicit_bzero(buf, cap);
	free(buf);
}

const char *file_type_name(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}

int read_file(const char *path, size_t max, unsigned flags, char **ret_buf, size_t *ret_len, mode_t *ret_mode)
{
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | ((flags & READ_FILE_ANY_TYPE) ? 0 : O_NONBLOCK);
	size_t len = 0, cap;
	struct stat st;
	char *buf;
	int fd, r;

	fd = open(path, oflags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (ret_mode)
		*ret_mode = st.st_mode;
	if (S_ISDIR(st.st_mode) || (!(flags & READ_FILE_ANY_TYPE) && !S_ISREG(st.st_mode))) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	/* The size fstat gives, and one byte more to see the end (or that it grew). */
	cap = S_ISREG(st.st_mode) && st.st_size >= 0 && (uintmax_t)st.st_size <= max ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap * 2 < max + 1 ? cap * 2 : max + 1;
			char *nbuf;

			if (cap > max) {
				r = -EFBIG;
				goto fail;
			}
			/* Not realloc: a secret must leave no copy in freed memory. */
			nbuf = xmalloc(ncap + 1);
			memcpy(nbuf, buf, len);
			release(buf, cap + 1, flags);
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;

fail:
	release(buf, cap + 1, flags);
	close(fd);
	return r;
}
