/*
 * A YAML document as a small tree with line:column positions, built from
 * libyaml's event API. Untrusted input is bounded while it is read: nesting
 * depth, total nodes after alias expansion, recursive aliases, duplicate keys,
 * keys holding a NUL byte (no name can carry one).
 * Merge keys (`<<: *base`) are resolved here so the validator sees plain maps.
 */
#ifndef MCPD_YAMLTREE_H
#define MCPD_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

enum ynode_type {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode;

struct ymap_entry {
	struct ynode *key;
	struct ynode *value;
};

struct ynode {
	enum ynode_type type;
	unsigned line, col;		/* 1-based, where the node starts */
	unsigned refs;			/* aliases share nodes */
	size_t weight;			/* nodes in this subtree, aliases expanded */

	/* YNODE_SCALAR */
	char *value;			/* len bytes, NULs included ("\0" escapes), then a '\0' */
	size_t len;
	bool plain;			/* unquoted: may be null, a bool, a number */

	/* YNODE_SEQ: items; YNODE_MAP: entries (merge keys already resolved) */
	struct ynode **items;
	struct ymap_entry *entries;
	size_t n;
};

struct ytree_limits {
	unsigned max_depth;
	size_t max_nodes;		/* after alias expansion */
};

/* Called for every problem found while reading; path is "a.b[2].c" or "" at the top. */
typedef void (*ytree_error_fn)(void *userdata, unsigned line, unsigned col,
			       const char *path, const char *message);

/*
 * Parse one YAML document. Returns 0 and the root (NULL for an empty
 * document), or -EINVAL after reporting problems through error. Problems
 * that leave a usable tree (duplicate or non-string keys: the first wins)
 * still set *ret_root, so the caller can report the rest too and must unref it.
 */
int ytree_parse(const char *buf, size_t len, const struct ytree_limits *limits,
		ytree_error_fn error, void *userdata, struct ynode **ret_root);

void ynode_unref(struct ynode *n);

/* Scalar helpers. */
bool ynode_is_null(const struct ynode *n);
const char *ynode_type_name(const struct ynode *n);

/* The value of key in a map (NULL when absent or n is not a map). */
struct ynode *ymap_get(const struct ynode *n, const char *key);

#endif
