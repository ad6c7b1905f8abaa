/*
 * YAML events -> struct ynode tree. Every limit is checked while events
 * arrive, so a hostile document is refused before it can cost memory or time:
 * aliases share nodes instead of copying them, and their expanded weight is
 * charged against max_nodes; an anchor is registered only once its node is
 * complete, so an alias can never refer to a node that contains it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "xmalloc.h"
#include "yamltree.h"

#define ANCHOR_BUCKETS 1024
#define PATH_MAX_LEN 512

struct anchor {
	char *name;
	struct ynode *node;
	struct anchor *next;
};

struct frame {
	struct ynode *node;
	char *anchor;
	struct ynode *key;		/* map: key waiting for its value */
	size_t cap;
};

struct builder {
	const struct ytree_limits *limits;
	ytree_error_fn error;
	void *userdata;
	struct frame *stack;
	size_t depth, stack_cap;
	struct ynode *root;
	struct anchor *anchors[ANCHOR_BUCKETS];
	size_t total;			/* nodes so far, aliases expanded */
	unsigned documents;
	bool failed;			/* errors were reported */
	bool fatal;			/* stop reading */
};

static struct ynode *ynode_new(enum ynode_type type, const yaml_mark_t *mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = (unsigned)mark->line + 1;
	n->col = (unsigned)mark->column + 1;
	n->refs = 1;
	n->weight = 1;
	return n;
}

void ynode_unref(struct ynode *n)
{
	if (!n || --n->refs > 0)
		return;
	switch (n->type) {
	case YNODE_SCALAR:
		free(n->value);
		break;
	case YNODE_SEQ:
		for (size_t i = 0; i < n->n; i++)
			ynode_unref(n->items[i]);
		free(n->items);
		break;
	case YNODE_MAP:
		for (size_t i = 0; i < n->n; i++) {
			ynode_unref(n->entries[i].key);
			ynode_unref(n->entries[i].value);
		}
		free(n->entries);
		break;
	}
	free(n);
}

static struct ynode *ynode_ref(struct ynode *n)
{
	n->refs++;
	return n;
}

/* "a.b[2].c" for the frames below depth, plus an optional last key. */
static void build_path(const struct builder *b, size_t depth, const char *last, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i <= depth && i < b->depth; i++) {
		const struct frame *f = &b->stack[i];
		int r = 0;

		if (i == depth) {
			if (last)
				r = snprintf(buf + off, size - off, "%s%s", off ? "." : "", last);
		} else if (f->node->type == YNODE_MAP && f->key && f->key->type == YNODE_SCALAR) {
			r = snprintf(buf + off, size - off, "%s%.64s", off ? "." : "", f->key->value);
		} else if (f->node->type == YNODE_SEQ) {
			r = snprintf(buf + off, size - off, "[%zu]", f->node->n);
		}
		if (r < 0 || (size_t)r >= size - off)
			return;
		off += (size_t)r;
	}
	if (depth >= b->depth && last && off < size)
		snprintf(buf + off, size - off, "%s%.64s", off ? "." : "", last);
}

static void report(struct builder *b, unsigned line, unsigned col, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void report(struct builder *b, unsigned line, unsigned col, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->failed = true;
	b->error(b->userdata, line, col, path, msg);
}

static void report_here(struct builder *b, const yaml_mark_t *mark, const char *msg)
{
	char path[PATH_MAX_LEN];

	build_path(b, b->depth, NULL, path, sizeof(path));
	report(b, (unsigned)mark->line + 1, (unsigned)mark->column + 1, path, "%s", msg);
}

static unsigned anchor_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % ANCHOR_BUCKETS;
}

static void anchor_add(struct builder *b, char *name, struct ynode *node)
{
	struct anchor *a = xmalloc(sizeof(*a));
	unsigned h = anchor_hash(name);

	a->name = name;
	a->node = ynode_ref(node);
	a->next = b->anchors[h];	/* a redefined anchor shadows the old one */
	b->anchors[h] = a;
}

static struct ynode *anchor_find(const struct builder *b, const char *name)
{
	for (struct anchor *a = b->anchors[anchor_hash(name)]; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a->node;
	return NULL;
}

static bool charge(struct builder *b, size_t weight, const yaml_mark_t *mark)
{
	if (weight > b->limits->max_nodes - b->total) {
		char msg[128];

		snprintf(msg, sizeof(msg), "document expands to more than %zu nodes (aliases used to multiply data?)",
			 b->limits->max_nodes);
		report_here(b, mark, msg);
		b->fatal = true;
		return false;
	}
	b->total += weight;
	return true;
}

/* Give a finished node to its parent (or make it the root). Takes the reference. */
static void attach(struct builder *b, struct ynode *node)
{
	struct frame *f;

	if (b->depth == 0) {
		if (b->root)
			ynode_unref(b->root);
		b->root = node;
		return;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->type == YNODE_SEQ) {
		if (f->node->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 4;
			f->node->items = xreallocarray(f->node->items, f->cap, sizeof(*f->node->items));
		}
		f->node->items[f->node->n++] = node;
	} else if (!f->key) {
		f->key = node;
	} else {
		if (f->node->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 4;
			f->node->entries = xreallocarray(f->node->entries, f->cap, sizeof(*f->node->entries));
		}
		f->node->entries[f->node->n].key = f->key;
		f->node->entries[f->node->n].value = node;
		f->node->n++;
		f->key = NULL;
	}
	f->node->weight += node->weight;
}

static void push(struct builder *b, struct ynode *node, const char *anchor, const yaml_mark_t *mark)
{
	if (b->depth >= b->limits->max_depth) {
		char msg[64];

		snprintf(msg, sizeof(msg), "nesting deeper than %u levels", b->limits->max_depth);
		report_here(b, mark, msg);
		b->fatal = true;
		ynode_unref(node);
		return;
	}
	if (b->depth == b->stack_cap) {
		b->stack_cap = b->stack_cap ? b->stack_cap * 2 : 16;
		b->stack = xreallocarray(b->stack, b->stack_cap, sizeof(*b->stack));
	}
	b->stack[b->depth++] = (struct frame){
		.node = node,
		.anchor = anchor ? xstrdup(anchor) : NULL,
	};
}

static int key_cmp(const struct ynode *a, const struct ynode *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->value, b->value, n);

	return r ? r : (a->len > b->len) - (a->len < b->len);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct ymap_entry *a = *(const struct ymap_entry *const *)pa;
	const struct ymap_entry *b = *(const struct ymap_entry *const *)pb;
	int r = key_cmp(a->key, b->key);

	/* Equal keys: keep file order so the first definition wins. */
	if (r == 0)
		r = (a->key->line > b->key->line) - (a->key->line < b->key->line);
	if (r == 0)
		r = (a->key->col > b->key->col) - (a->key->col < b->key->col);
	return r;
}

static bool is_merge_key(const struct ynode *k)
{
	return k->type == YNODE_SCALAR && k->plain && k->len == 2 && memcmp(k->value, "<<", 2) == 0;
}

/* A key for messages: at most 40 bytes, control bytes (a NUL above all) escaped. */
static void show_key(const struct ynode *k, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < k->len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)k->value[i];

		if (i == 40) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (c == 0)
			o += (size_t)snprintf(buf + o, size - o, "\\0");
		else if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, c == '"' || c == '\\' ? "\\%c" : "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
}

static struct ymap_entry *sorted_find(struct ymap_entry **sorted, size_t n, const struct ynode *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = key_cmp(sorted[mid]->key, key);

		if (r == 0)
			return sorted[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * A map is complete: drop non-scalar and duplicate keys (reporting them), then
 * add the entries of merge sources (`<<`) that the map does not define itself.
 */
static void finish_map(struct builder *b, struct ynode *map)
{
	struct ymap_entry *entries = map->entries;
	struct ymap_entry **sorted;
	struct ynode **merges = NULL;
	size_t n = map->n, kept = 0, nmerges = 0, nsorted = 0;
	char path[PATH_MAX_LEN];

	map->entries = NULL;
	map->n = 0;
	sorted = xreallocarray(NULL, n ? n : 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++) {
		struct ymap_entry *e = &entries[i];

		if (e->key->type != YNODE_SCALAR) {
			build_path(b, b->depth, NULL, path, sizeof(path));
			report(b, e->key->line, e->key->col, path, "keys must be plain strings, not %s",
			       ynode_type_name(e->key));
			ynode_unref(e->key);
			ynode_unref(e->value);
			e->key = NULL;
			continue;
		}
		if (memchr(e->key->value, '\0', e->key->len)) {
			char shown[64];

			/* Every key names something (a setting, a variable, a header): none can hold a NUL. */
			show_key(e->key, shown, sizeof(shown));
			build_path(b, b->depth, NULL, path, sizeof(path));
			report(b, e->key->line, e->key->col, path, "key \"%s\" contains a NUL byte, which no name can hold",
			       shown);
			ynode_unref(e->key);
			ynode_unref(e->value);
			e->key = NULL;
			continue;
		}
		if (is_merge_key(e->key)) {
			struct ynode *v = e->value;
			bool ok = v->type == YNODE_MAP;

			if (v->type == YNODE_SEQ) {
				ok = true;
				for (size_t j = 0; j < v->n; j++)
					ok = ok && v->items[j]->type == YNODE_MAP;
			}
			if (!ok) {
				build_path(b, b->depth, "<<", path, sizeof(path));
				report(b, v->line, v->col, path, "a merge key needs a map or a list of maps, not %s",
				       ynode_type_name(v));
				ynode_unref(v);
			} else if (v->type == YNODE_MAP) {
				merges = xreallocarray(merges, nmerges + 1, sizeof(*merges));
				merges[nmerges++] = v;
			} else {
				merges = xreallocarray(merges, nmerges + v->n, sizeof(*merges));
				for (size_t j = 0; j < v->n; j++)
					merges[nmerges++] = ynode_ref(v->items[j]);
				ynode_unref(v);
			}
			ynode_unref(e->key);
			e->key = NULL;
			continue;
		}
		sorted[nsorted++] = e;
	}

	qsort(sorted, nsorted, sizeof(*sorted), entry_cmp);
	for (size_t i = 1; i < nsorted; i++) {
		struct ymap_entry *first = sorted[i - 1], *dup = sorted[i];

		if (key_cmp(first->key, dup->key) != 0)
			continue;
		build_path(b, b->depth, dup->key->value, path, sizeof(path));
		report(b, dup->key->line, dup->key->col, path, "duplicate key \"%.64s\" (first defined at line %u)",
		       dup->key->value, first->key->line);
		sorted[i] = first;	/* a third copy is compared with the kept one */
		map->weight -= dup->key->weight + dup->value->weight;
		ynode_unref(dup->key);
		ynode_unref(dup->value);
		dup->key = NULL;
	}

	/* Keep file order for the entries that survived. */
	for (size_t i = 0; i < n; i++)
		if (entries[i].key)
			entries[kept++] = entries[i];
	map->entries = entries;
	map->n = kept;

	for (size_t m = 0; m < nmerges && !b->fatal; m++) {
		struct ynode *src = merges[m];
		size_t have = map->n, nadd = 0;

		/* Sorted pointers into map->entries: grow the array only after the lookups. */
		sorted = xreallocarray(sorted, have ? have : 1, sizeof(*sorted));
		for (size_t i = 0; i < have; i++)
			sorted[i] = &map->entries[i];
		qsort(sorted, have, sizeof(*sorted), entry_cmp);
		for (size_t i = 0; i < src->n; i++)
			if (!sorted_find(sorted, have, src->entries[i].key))
				nadd++;
		if (nadd == 0)
			continue;
		if (!charge(b, src->weight, &(yaml_mark_t){ .line = src->line - 1, .column = src->col - 1 }))
			break;
		struct ymap_entry *add = xreallocarray(NULL, nadd, sizeof(*add));
		nadd = 0;
		for (size_t i = 0; i < src->n; i++) {
			struct ymap_entry *e = &src->entries[i];

			if (sorted_find(sorted, have, e->key))
				continue;
			add[nadd].key = ynode_ref(e->key);
			add[nadd].value = ynode_ref(e->value);
			map->weight += e->key->weight + e->value->weight;
			nadd++;
		}
		map->entries = xreallocarray(map->entries, have + nadd, sizeof(*map->entries));
		memcpy(map->entries + have, add, nadd * sizeof(*add));
		map->n = have + nadd;
		free(add);
	}
	for (size_t m = 0; m < nmerges; m++)
		ynode_unref(merges[m]);
	free(merges);
	free(sorted);
}

static void pop(struct builder *b)
{
	struct frame f = b->stack[--b->depth];

	if (f.key) {
		/* A key without a value cannot come from libyaml, but be safe. */
		ynode_unref(f.key);
	}
	if (f.node->type == YNODE_MAP) {
		b->depth++;		/* so paths in messages include this map */
		finish_map(b, f.node);
		b->depth--;
	}
	if (f.anchor)
		anchor_add(b, f.anchor, f.node);
	attach(b, f.node);
}

static void on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct ynode *n;

	if (!charge(b, 1, &ev->start_mark))
		return;
	n = ynode_new(YNODE_SCALAR, &ev->start_mark);
	/* All the bytes, NULs included: len is the truth, value[len] the only terminator we add. */
	n->len = ev->data.scalar.length;
	n->value = xmalloc(n->len + 1);
	memcpy(n->value, ev->data.scalar.value, n->len);
	n->value[n->len] = '\0';
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (ev->data.scalar.anchor)
		anchor_add(b, xstrdup((const char *)ev->data.scalar.anchor), n);
	attach(b, n);
}

static void on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct ynode *target = anchor_find(b, name);

	if (!target) {
		char msg[192];

		snprintf(msg, sizeof(msg),
			 "alias *%.64s refers to no complete anchor (undefined, or an alias inside its own anchor)", name);
		report_here(b, &ev->start_mark, msg);
		b->fatal = true;
		return;
	}
	if (!charge(b, target->weight, &ev->start_mark))
		return;
	attach(b, ynode_ref(target));
}

static void on_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1) {
			report_here(b, &ev->start_mark, "only one YAML document is allowed in a manifest");
			b->fatal = true;
		}
		break;
	case YAML_SCALAR_EVENT:
		on_scalar(b, ev);
		break;
	case YAML_ALIAS_EVENT:
		on_alias(b, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (charge(b, 1, &ev->start_mark))
			push(b, ynode_new(YNODE_SEQ, &ev->start_mark),
			     (const char *)ev->data.sequence_start.anchor, &ev->start_mark);
		break;
	case YAML_MAPPING_START_EVENT:
		if (charge(b, 1, &ev->start_mark))
			push(b, ynode_new(YNODE_MAP, &ev->start_mark),
			     (const char *)ev->data.mapping_start.anchor, &ev->start_mark);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			pop(b);
		break;
	default:
		break;
	}
}

static void builder_free(struct builder *b)
{
	while (b->depth > 0) {
		struct frame *f = &b->stack[--b->depth];

		ynode_unref(f->key);
		ynode_unref(f->node);
		free(f->anchor);
	}
	free(b->stack);
	for (size_t i = 0; i < ANCHOR_BUCKETS; i++) {
		while (b->anchors[i]) {
			struct anchor *a = b->anchors[i];

			b->anchors[i] = a->next;
			free(a->name);
			ynode_unref(a->node);
			free(a);
		}
	}
}

int ytree_parse(const char *buf, size_t len, const struct ytree_limits *limits,
		ytree_error_fn error, void *userdata, struct ynode **ret_root)
{
	struct builder b = {
		.limits = limits,
		.error = error,
		.userdata = userdata,
	};
	yaml_parser_t parser;
	bool done = false;

	*ret_root = NULL;
	if (!yaml_parser_initialize(&parser)) {
		error(userdata, 1, 1, "", "cannot initialize the YAML parser (out of memory)");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	while (!done && !b.fatal) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			char path[PATH_MAX_LEN];
			const yaml_mark_t *mark = &parser.problem_mark;

			build_path(&b, b.depth, NULL, path, sizeof(path));
			if (parser.context)
				report(&b, (unsigned)mark->line + 1, (unsigned)mark->column + 1, path,
				       "YAML syntax error: %s %s", parser.problem ? parser.problem : "invalid input",
				       parser.context);
			else
				report(&b, (unsigned)mark->line + 1, (unsigned)mark->column + 1, path,
				       "YAML syntax error: %s", parser.problem ? parser.problem : "invalid input");
			b.fatal = true;
			break;
		}
		on_event(&b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	if (b.fatal || b.failed) {
		builder_free(&b);
		if (b.fatal) {
			ynode_unref(b.root);
			return -EINVAL;
		}
	} else {
		builder_free(&b);
	}
	/* Duplicate keys alone leave a usable tree: the validator reports the rest too. */
	*ret_root = b.root;
	return b.failed ? -EINVAL : 0;
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n)
		return true;
	if (n->type != YNODE_SCALAR || !n->plain)
		return false;
	if (strlen(n->value) != n->len)
		return false;	/* "~\0..." is a string with a NUL, not null */
	return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	       strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

const char *ynode_type_name(const struct ynode *n)
{
	if (ynode_is_null(n))
		return "nothing (null)";
	switch (n->type) {
	case YNODE_SCALAR:
		return "a string";
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a map";
	}
	return "?";
}

struct ynode *ymap_get(const struct ynode *n, const char *key)
{
	size_t len = strlen(key);

	if (!n || n->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (n->entries[i].key->len == len && memcmp(n->entries[i].key->value, key, len) == 0)
			return n->entries[i].value;
	return NULL;
}
