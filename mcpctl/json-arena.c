/* cJSON's allocations from an arena: see json-arena.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "json-arena.h"
#include "xmalloc.h"

#define CHUNK (256 * 1024)
/* Larger blocks get a chunk of their own. */
#define BIG (CHUNK / 4)

struct chunk {
	struct chunk *next;
	size_t size;		/* bytes after the header */
	size_t used;
	max_align_t data[];
};

static struct chunk *chunks;	/* the newest first: it is the one that bumps */

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c = xmalloc(sizeof(*c) + size);

	c->size = size;
	c->used = 0;
	return c;
}

static void *arena_malloc(size_t n)
{
	size_t need = (n + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
	struct chunk *c;

	if (need > BIG) {
		/* Behind the current chunk, which keeps bumping. */
		c = chunk_new(need);
		c->used = need;
		if (chunks) {
			c->next = chunks->next;
			chunks->next = c;
		} else {
			c->next = NULL;
			chunks = c;
		}
		return c->data;
	}
	if (!chunks || chunks->size - chunks->used < need) {
		c = chunk_new(CHUNK);
		c->next = chunks;
		chunks = c;
	}
	c = chunks;
	c->used += need;
	return (char *)c->data + c->used - need;
}

static bool in_arena(const void *p)
{
	for (const struct chunk *c = chunks; c; c = c->next)
		if ((const char *)p >= (const char *)c->data && (const char *)p < (const char *)c->data + c->size)
			return true;
	return false;
}

static void arena_free(void *p)
{
	if (p && !in_arena(p))
		free(p);
}

void json_arena_begin(void)
{
	cJSON_Hooks hooks = { .malloc_fn = arena_malloc, .free_fn = arena_free };

	cJSON_InitHooks(&hooks);
}

void json_arena_end(void)
{
	cJSON_InitHooks(NULL);
	while (chunks) {
		struct chunk *c = chunks;

		chunks = c->next;
		free(c);
	}
}
