/* The manifest history: see history.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "log.h"
#include "manifest.h"
#include "readfile.h"
#include "xmalloc.h"

#define ENTRY_MAX_BYTES	(1024 * 1024)	/* one entry's JSON: 4096 server names at most */
#define WRITER_RETRIES	3		/* a writer killed by a signal is started again at once */

struct entry {
	uint64_t seq;
	char hash[SHA256_HEX_LEN + 1];
	cJSON *meta;		/* what SEQ.json holds */
	char *json;		/* meta serialized, until it is on disk */
	bool on_disk, writing;
};

struct blob {
	char hash[SHA256_HEX_LEN + 1];
	char *buf;
	size_t len;
	bool on_disk, writing;
};

struct history {
	struct ev_loop *loop;
	char *state_dir;
	char *dir;		/* state_dir/history */
	char *off;		/* why the history is off, or NULL */
	unsigned keep;
	int lock_fd;

	struct entry *entries;	/* oldest first */
	size_t n;
	struct blob *blobs;
	size_t nblobs;
	char **unlink;		/* file names in dir to remove */
	size_t nunlink, unlink_writing;
	uint64_t next_seq;

	/* The manifest in force, and the last one read from the file. */
	char running[SHA256_HEX_LEN + 1];
	char from_file[SHA256_HEX_LEN + 1];
	const char *source;	/* "start", "reload" or "rollback" */
	uint64_t running_seq;

	pid_t writer;
	ev_child writer_w;
	unsigned retries;
	bool failing;		/* the last writer failed: logged once until one succeeds */
};

/* ---- paths ------------------------------------------------------------- */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] == '/' ? v : NULL;
}

int history_default_dir(char **ret_path)
{
	const char *v;

	if ((v = env_nonempty("STATE_DIRECTORY")) != NULL) {
		/* systemd passes one path per StateDirectory= entry, ':'-separated: the first is ours. */
		*ret_path = xstrndup(v, strcspn(v, ":"));
		return 0;
	}
	if (geteuid() == 0) {
		*ret_path = xstrdup("/var/lib/mcpd");
		return 0;
	}
	if ((v = env_nonempty("XDG_STATE_HOME")) != NULL) {
		xasprintf(ret_path, "%s/mcpd", v);
		return 0;
	}
	if ((v = env_nonempty("HOME")) != NULL) {
		xasprintf(ret_path, "%s/.local/state/mcpd", v);
		return 0;
	}
	*ret_path = NULL;
	return -ENOENT;
}

/* mkdir -p, every missing level mode 0700. */
static int mkdir_parents(const char *path)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return r;
}

static bool is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* ---- in memory --------------------------------------------------------- */

static struct blob *find_blob(const struct history *h, const char *hash)
{
	for (size_t i = 0; i < h->nblobs; i++)
		if (strcmp(h->blobs[i].hash, hash) == 0)
			return &h->blobs[i];
	return NULL;
}

/* A file of dir to remove with the next write: "HASH.yaml", "SEQ.json" or a leftover. */
static void add_unlink(struct history *h, const char *name, const char *ext)
{
	h->unlink = xrealloc(h->unlink, (h->nunlink + 1) * sizeof(*h->unlink));
	xasprintf(&h->unlink[h->nunlink++], "%s%s", name, ext);
}

static size_t blob_bytes(const struct history *h)
{
	size_t total = 0;

	for (size_t i = 0; i < h->nblobs; i++)
		total += h->blobs[i].len;
	return total;
}

static void drop_unreferenced_blobs(struct history *h)
{
	size_t j = 0;

	for (size_t i = 0; i < h->nblobs; i++) {
		struct blob *b = &h->blobs[i];
		bool used = false;

		for (size_t k = 0; k < h->n && !used; k++)
			used = strcmp(h->entries[k].hash, b->hash) == 0;
		if (used) {
			h->blobs[j++] = *b;
			continue;
		}
		if (b->on_disk || b->writing)
			add_unlink(h, b->hash, ".yaml");
		free(b->buf);
	}
	h->nblobs = j;
}

static void drop_oldest(struct history *h)
{
	struct entry *e = &h->entries[0];

	if (e->on_disk || e->writing) {
		char seq[24];

		snprintf(seq, sizeof(seq), "%020llu", (unsigned long long)e->seq);
		add_unlink(h, seq, ".json");
	}
	cJSON_Delete(e->meta);
	free(e->json);
	if (h->n > 1)
		memmove(h->entries, h->entries + 1, (h->n - 1) * sizeof(*h->entries));
	h->n--;
}

/* The oldest go while more than keep entries, or more than HISTORY_MAX_BYTES of content, are kept. */
static void prune(struct history *h)
{
	while (h->n > h->keep) {
		drop_oldest(h);
		drop_unreferenced_blobs(h);
	}
	while (h->n > 1 && blob_bytes(h) > HISTORY_MAX_BYTES) {
		drop_oldest(h);
		drop_unreferenced_blobs(h);
	}
}

/* ---- the writer -------------------------------------------------------- */

static int write_file(int dirfd, const char *name, const char *buf, size_t len)
{
	char tmp[128];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

/*
 * What the child does: removals first (a content pruned and recorded again
 * is then written after its removal), then contents before the entries
 * that name them, then the directory itself is synced. 0 or -errno.
 */
static int write_pending(const struct history *h)
{
	int dirfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char name[SHA256_HEX_LEN + 16];
	int r = 0;

	if (dirfd < 0)
		return -errno;
	for (size_t i = 0; i < h->unlink_writing; i++)
		if (unlinkat(dirfd, h->unlink[i], 0) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	for (size_t i = 0; i < h->nblobs && r == 0; i++) {
		if (!h->blobs[i].writing)
			continue;
		snprintf(name, sizeof(name), "%s.yaml", h->blobs[i].hash);
		r = write_file(dirfd, name, h->blobs[i].buf, h->blobs[i].len);
	}
	for (size_t i = 0; i < h->n && r == 0; i++) {
		if (!h->entries[i].writing)
			continue;
		snprintf(name, sizeof(name), "%020llu.json", (unsigned long long)h->entries[i].seq);
		r = write_file(dirfd, name, h->entries[i].json, strlen(h->entries[i].json));
	}
	if (r == 0 && fsync(dirfd) < 0)
		r = -errno;
	close(dirfd);
	return r;
}

static bool anything_pending(const struct history *h)
{
	if (h->nunlink)
		return true;
	for (size_t i = 0; i < h->nblobs; i++)
		if (!h->blobs[i].on_disk)
			return true;
	for (size_t i = 0; i < h->n; i++)
		if (!h->entries[i].on_disk)
			return true;
	return false;
}

/* Mark what the writer takes; done: it is on disk, or not (it stays pending). */
static void mark(struct history *h, bool start, bool done)
{
	for (size_t i = 0; i < h->nblobs; i++) {
		if (start)
			h->blobs[i].writing = !h->blobs[i].on_disk;
		else if (h->blobs[i].writing)
			h->blobs[i].on_disk = done;
		if (!start)
			h->blobs[i].writing = false;
	}
	for (size_t i = 0; i < h->n; i++) {
		struct entry *e = &h->entries[i];

		if (start) {
			e->writing = !e->on_disk;
			continue;
		}
		if (e->writing && done) {
			e->on_disk = true;
			free(e->json);
			e->json = NULL;
		}
		e->writing = false;
	}
	if (start) {
		h->unlink_writing = h->nunlink;
		return;
	}
	if (done) {
		for (size_t i = 0; i < h->unlink_writing; i++)
			free(h->unlink[i]);
		if (h->nunlink > h->unlink_writing)
			memmove(h->unlink, h->unlink + h->unlink_writing,
				(h->nunlink - h->unlink_writing) * sizeof(*h->unlink));
		h->nunlink -= h->unlink_writing;
	}
	h->unlink_writing = 0;
}

static void writer_start(struct history *h);

pid_t history_writer_pid(const struct history *h)
{
	return h ? h->writer : 0;
}

static void on_writer_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct history *h = w->data;
	int status = w->rstatus;
	bool done = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	ev_child_stop(loop, w);
	h->writer = 0;
	mark(h, false, done);
	if (done) {
		h->retries = 0;
		if (h->failing)
			log_notice(NULL, NULL, "history: writing to %s works again; every entry is saved", h->dir);
		h->failing = false;
	} else if (WIFSIGNALED(status) && ++h->retries <= WRITER_RETRIES) {
		log_info(NULL, NULL, "history: the writer was killed by signal %d; writing again", WTERMSIG(status));
	} else {
		if (!h->failing)
			log_warning(NULL, NULL,
				    "history: cannot write to %s: %s; the entries not saved stay in memory, "
				    "written at the next change",
				    h->dir, WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "the writer was killed");
		h->failing = true;
		h->retries = 0;
		return;
	}
	if (anything_pending(h))
		writer_start(h);
}

/* One writer at a time: what is recorded meanwhile goes with the next one. */
static void writer_start(struct history *h)
{
	pid_t pid;

	if (h->off || h->writer > 0 || !anything_pending(h))
		return;
	mark(h, true, false);
	pid = fork();
	if (pid == 0) {
		int r = write_pending(h);

		_exit(r < 0 ? (-r & 0xff) : 0);
	}
	if (pid < 0) {
		int err = errno;

		mark(h, false, false);
		if (!h->failing)
			log_warning(NULL, NULL, "history: cannot fork a writer: %s; the entry is kept in memory, "
				    "written at the next change", strerror(err));
		h->failing = true;
		return;
	}
	h->writer = pid;
	ev_child_set(&h->writer_w, pid, 0);
	ev_child_start(h->loop, &h->writer_w);
}

/* ---- reading at start -------------------------------------------------- */

static bool valid_names(const cJSON *list)
{
	const cJSON *it;

	if (!cJSON_IsArray(list))
		return false;
	cJSON_ArrayForEach(it, list)
		if (!cJSON_IsString(it))
			return false;
	return true;
}

/* One SEQ.json and the content it names; false (and nothing added) when either is broken. */
static bool load_entry(struct history *h, const char *name)
{
	struct entry e = { 0 };
	char *buf = NULL, path[PATH_MAX];
	size_t len;
	const cJSON *hash;
	struct blob *b;

	e.seq = strtoull(name, NULL, 10);
	snprintf(path, sizeof(path), "%s/%s", h->dir, name);
	if (read_file(path, ENTRY_MAX_BYTES, 0, &buf, &len, NULL) < 0)
		return false;
	e.meta = cJSON_ParseWithLength(buf, len);
	free(buf);
	hash = cJSON_GetObjectItemCaseSensitive(e.meta, "hash");
	if (!cJSON_IsObject(e.meta) || !cJSON_IsString(hash) || strlen(hash->valuestring) != SHA256_HEX_LEN ||
	    !is_hex(hash->valuestring, SHA256_HEX_LEN) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e.meta, "time")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e.meta, "who")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e.meta, "action")) ||
	    !valid_names(cJSON_GetObjectItemCaseSensitive(e.meta, "added")) ||
	    !valid_names(cJSON_GetObjectItemCaseSensitive(e.meta, "changed")) ||
	    !valid_names(cJSON_GetObjectItemCaseSensitive(e.meta, "removed")))
		goto broken;
	memcpy(e.hash, hash->valuestring, sizeof(e.hash));
	if (!(b = find_blob(h, e.hash))) {
		struct blob nb = { .on_disk = true };
		char check[SHA256_HEX_LEN + 1];

		snprintf(path, sizeof(path), "%s/%s.yaml", h->dir, e.hash);
		if (read_file(path, MANIFEST_MAX_BYTES, 0, &nb.buf, &nb.len, NULL) < 0)
			goto broken;
		sha256_hex(nb.buf, nb.len, check);
		if (strcmp(check, e.hash) != 0) {
			free(nb.buf);
			goto broken;
		}
		memcpy(nb.hash, e.hash, sizeof(nb.hash));
		h->blobs = xrealloc(h->blobs, (h->nblobs + 1) * sizeof(*h->blobs));
		h->blobs[h->nblobs++] = nb;
	}
	e.on_disk = true;
	h->entries = xrealloc(h->entries, (h->n + 1) * sizeof(*h->entries));
	h->entries[h->n++] = e;
	return true;
broken:
	cJSON_Delete(e.meta);
	return false;
}

static int entry_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct entry *)a)->seq, y = ((const struct entry *)b)->seq;

	return (x > y) - (x < y);
}

static bool entry_name(const char *name)
{
	return strlen(name) == 25 && strspn(name, "0123456789") == 20 && strcmp(name + 20, ".json") == 0;
}

static bool blob_name(const char *name)
{
	return strlen(name) == SHA256_HEX_LEN + 5 && is_hex(name, SHA256_HEX_LEN) &&
	       strcmp(name + SHA256_HEX_LEN, ".yaml") == 0;
}

/* Every entry on disk; leftovers (temp files, broken entries, contents no entry names) are removed later. */
static void load(struct history *h)
{
	DIR *dir = opendir(h->dir);
	struct dirent *de;
	unsigned broken = 0;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (entry_name(de->d_name)) {
			if (!load_entry(h, de->d_name)) {
				broken++;
				add_unlink(h, de->d_name, "");
			}
		} else if (strncmp(de->d_name, ".tmp-", 5) == 0) {
			add_unlink(h, de->d_name, "");
		}
	}
	rewinddir(dir);
	while ((de = readdir(dir)))
		if (blob_name(de->d_name)) {
			char hash[SHA256_HEX_LEN + 1];

			memcpy(hash, de->d_name, SHA256_HEX_LEN);
			hash[SHA256_HEX_LEN] = '\0';
			if (!find_blob(h, hash))
				add_unlink(h, de->d_name, "");
		}
	closedir(dir);
	if (h->n)
		qsort(h->entries, h->n, sizeof(*h->entries), entry_cmp);
	h->next_seq = h->n ? h->entries[h->n - 1].seq + 1 : 1;
	if (broken)
		log_warning(NULL, NULL, "history: %u unreadable or damaged entr%s in %s skipped; removing them", broken,
			    broken == 1 ? "y" : "ies", h->dir);
	prune(h);
}

struct history *history_open(struct ev_loop *loop, const char *state_dir, unsigned keep, char **ret_warning)
{
	struct history *h = xcalloc(1, sizeof(*h));
	char *lock = NULL;
	int r;

	*ret_warning = NULL;
	h->loop = loop;
	h->keep = keep ? keep : HISTORY_DEFAULT_KEEP;
	h->lock_fd = -1;
	h->source = "start";
	ev_child_init(&h->writer_w, on_writer_exit, 0, 0);
	h->writer_w.data = h;
	if (state_dir)
		h->state_dir = xstrdup(state_dir);
	else if (history_default_dir(&h->state_dir) < 0) {
		xasprintf(&h->off, "no state directory: set mcpd.state_dir (neither $STATE_DIRECTORY, $XDG_STATE_HOME "
			  "nor $HOME is set)");
		goto off;
	}
	xasprintf(&h->dir, "%s/history", h->state_dir);
	if ((r = mkdir_parents(h->dir)) < 0) {
		xasprintf(&h->off, "cannot create %s: %s", h->dir, strerror(-r));
		goto off;
	}
	xasprintf(&lock, "%s/lock", h->dir);
	h->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (h->lock_fd < 0) {
		xasprintf(&h->off, "cannot write in %s: %s", h->dir, strerror(errno));
		goto off;
	}
	if (flock(h->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		xasprintf(&h->off, "%s is in use by another mcpd (give each mcpd its own mcpd.state_dir)", h->dir);
		goto off;
	}
	free(lock);
	load(h);
	return h;
off:
	free(lock);
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	h->lock_fd = -1;
	xasprintf(ret_warning, "history: %s; manifest history and rollback are off", h->off);
	return h;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	if (h->writer > 0) {
		int status;

		ev_child_stop(h->loop, &h->writer_w);
		if (waitpid(h->writer, &status, 0) == h->writer)
			mark(h, false, WIFEXITED(status) && WEXITSTATUS(status) == 0);
		else
			mark(h, false, false);
	}
	/* At exit, blocking is fine: what is still unsaved is written now. */
	if (!h->off && anything_pending(h)) {
		int r;

		mark(h, true, false);
		r = write_pending(h);
		if (r < 0)
			log_warning(NULL, NULL, "history: cannot write to %s: %s; the last entries are lost", h->dir,
				    strerror(-r));
	}
	for (size_t i = 0; i < h->n; i++) {
		cJSON_Delete(h->entries[i].meta);
		free(h->entries[i].json);
	}
	free(h->entries);
	for (size_t i = 0; i < h->nblobs; i++)
		free(h->blobs[i].buf);
	free(h->blobs);
	for (size_t i = 0; i < h->nunlink; i++)
		free(h->unlink[i]);
	free(h->unlink);
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	free(h->state_dir);
	free(h->dir);
	free(h->off);
	free(h);
}

bool history_last(const struct history *h, const char **ret_buf, size_t *ret_len)
{
	const struct blob *b;

	if (!h || h->off || h->n == 0 || !(b = find_blob(h, h->entries[h->n - 1].hash)))
		return false;
	*ret_buf = b->buf;
	*ret_len = b->len;
	return true;
}

bool history_enabled(const struct history *h)
{
	return h && !h->off;
}

const char *history_off_reason(const struct history *h)
{
	return h ? h->off : "not started";
}

const char *history_state_dir(const struct history *h)
{
	return h ? h->state_dir : NULL;
}

void history_set_keep(struct history *h, unsigned keep)
{
	if (!h || keep == 0 || keep == h->keep)
		return;
	h->keep = keep;
	prune(h);
	writer_start(h);
}

/* ---- recording --------------------------------------------------------- */

static void copy_names(cJSON *meta, const cJSON *diff, const char *key)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(diff, key);

	cJSON_AddItemToObject(meta, key, valid_names(list) ? cJSON_Duplicate(list, true) : cJSON_CreateArray());
}

void history_record(struct history *h, const char *buf, size_t len, const char *action, const char *who, uid_t uid,
		    const cJSON *diff)
{
	struct timespec ts;
	struct entry e = { 0 };
	cJSON *meta;

	sha256_hex(buf, len, h->running);
	h->source = strcmp(action, "start") == 0 ? "start" : strcmp(action, "reload") == 0 ? "reload" : "rollback";
	if (strcmp(action, "rollback") != 0)
		memcpy(h->from_file, h->running, sizeof(h->from_file));
	if (h->off)
		return;
	if (!find_blob(h, h->running)) {
		struct blob b = { .len = len };

		memcpy(b.hash, h->running, sizeof(b.hash));
		b.buf = xmalloc(len + 1);
		memcpy(b.buf, buf, len);
		b.buf[len] = '\0';
		h->blobs = xrealloc(h->blobs, (h->nblobs + 1) * sizeof(*h->blobs));
		h->blobs[h->nblobs++] = b;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	e.seq = h->next_seq++;
	memcpy(e.hash, h->running, sizeof(e.hash));
	meta = cJSON_CreateObject();
	cJSON_AddNumberToObject(meta, "seq", (double)e.seq);
	cJSON_AddStringToObject(meta, "hash", e.hash);
	cJSON_AddNumberToObject(meta, "time", (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.);
	if (who) {
		cJSON_AddStringToObject(meta, "who", who);
	} else {
		char text[32];

		snprintf(text, sizeof(text), "uid %u", (unsigned)uid);
		cJSON_AddStringToObject(meta, "who", text);
		cJSON_AddNumberToObject(meta, "uid", (double)uid);
	}
	cJSON_AddStringToObject(meta, "action", h->source);
	cJSON_AddNumberToObject(meta, "bytes", (double)len);
	copy_names(meta, diff, "added");
	copy_names(meta, diff, "changed");
	copy_names(meta, diff, "removed");
	e.meta = meta;
	e.json = cJSON_PrintUnformatted(meta);
	h->entries = xrealloc(h->entries, (h->n + 1) * sizeof(*h->entries));
	h->entries[h->n++] = e;
	h->running_seq = e.seq;
	prune(h);
	writer_start(h);
}

/* ---- queries ----------------------------------------------------------- */

int history_lookup(const struct history *h, const char *prefix, const char **ret_buf, size_t *ret_len,
		   char ret_hash[SHA256_HEX_LEN + 1], char **ret_error)
{
	const char *found = NULL;
	const struct blob *b;
	size_t plen;

	*ret_error = NULL;
	if (!h || h->off) {
		xasprintf(ret_error, "the manifest history is off: %s", h ? h->off : "not started");
		return -ENODATA;
	}
	if (!prefix) {
		for (size_t i = h->n; i-- > 0;)
			if (h->entries[i].seq < h->running_seq && strcmp(h->entries[i].hash, h->running) != 0) {
				found = h->entries[i].hash;
				break;
			}
		if (!found) {
			xasprintf(ret_error, "no earlier manifest in the history differs from the running one");
			return -ENOENT;
		}
	} else {
		plen = strlen(prefix);
		if (plen == 0 || plen > SHA256_HEX_LEN || strspn(prefix, "0123456789abcdefABCDEF") != plen) {
			xasprintf(ret_error, "\"%.64s\" is not a hash: expected hex digits, as `mcpctl history` shows them",
				  prefix);
			return -EDOM;
		}
		for (size_t i = h->n; i-- > 0;) {
			const char *hash = h->entries[i].hash;

			if (strncasecmp(hash, prefix, plen) != 0 || (found && strcmp(found, hash) == 0))
				continue;
			if (found) {
				xasprintf(ret_error, "hash %s is ambiguous: %.*s and %.*s both match; give more digits", prefix,
					  HISTORY_SHORT + 2, found, HISTORY_SHORT + 2, hash);
				return -ENOTUNIQ;
			}
			found = hash;
		}
		if (!found) {
			xasprintf(ret_error, "no manifest with hash %s in the history (see `mcpctl history`)", prefix);
			return -ENOENT;
		}
	}
	b = find_blob(h, found);
	*ret_buf = b->buf;
	*ret_len = b->len;
	memcpy(ret_hash, found, SHA256_HEX_LEN + 1);
	return 0;
}

cJSON *history_list_json(const struct history *h)
{
	cJSON *r = cJSON_CreateObject(), *list;

	cJSON_AddStringToObject(r, "state_dir", h->state_dir ? h->state_dir : "");
	cJSON_AddNumberToObject(r, "keep", h->keep);
	cJSON_AddStringToObject(r, "running", h->running);
	cJSON_AddBoolToObject(r, "file_differs", strcmp(h->running, h->from_file) != 0);
	list = cJSON_AddArrayToObject(r, "entries");
	for (size_t i = h->n; i-- > 0;) {
		cJSON *o = cJSON_Duplicate(h->entries[i].meta, true);
		char short_hash[HISTORY_SHORT + 1];

		memcpy(short_hash, h->entries[i].hash, HISTORY_SHORT);
		short_hash[HISTORY_SHORT] = '\0';
		cJSON_AddStringToObject(o, "short", short_hash);
		cJSON_AddBoolToObject(o, "running", h->entries[i].seq == h->running_seq);
		cJSON_AddItemToArray(list, o);
	}
	return r;
}

cJSON *history_manifest_json(const struct history *h)
{
	cJSON *o = cJSON_CreateObject();

	if (!h)
		return o;
	cJSON_AddStringToObject(o, "hash", h->running);
	cJSON_AddStringToObject(o, "source", h->source);
	cJSON_AddBoolToObject(o, "file_differs", strcmp(h->running, h->from_file) != 0);
	return o;
}

cJSON *history_diff(const struct manifest *old, const struct manifest *new)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *added = cJSON_AddArrayToObject(r, "added");
	cJSON *changed = cJSON_AddArrayToObject(r, "changed");
	cJSON *removed = cJSON_AddArrayToObject(r, "removed");

	for (size_t i = 0; new && i < new->nservers; i++) {
		const struct server_conf *o = old ? manifest_find_server(old, new->servers[i].name) : NULL;

		if (!o)
			cJSON_AddItemToArray(added, cJSON_CreateString(new->servers[i].name));
		else if (!server_conf_equal(o, &new->servers[i]))
			cJSON_AddItemToArray(changed, cJSON_CreateString(new->servers[i].name));
	}
	for (size_t i = 0; old && i < old->nservers; i++)
		if (!new || !manifest_find_server(new, old->servers[i].name))
			cJSON_AddItemToArray(removed, cJSON_CreateString(old->servers[i].name));
	return r;
}
