/*
 * The status document: mcpd's health, its manifest and one object per
 * server, written straight as text (no cJSON tree): the control method
 * `status` and GET /health send the same bytes.
 */
#ifndef MCPD_STATUS_H
#define MCPD_STATUS_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;
struct jsonw;
struct server;

/* {"health":...,"manifest":{...},"servers":[...]} of the n servers of list into w; summary as server_status_write. */
void status_write(const struct daemon *d, struct server *const *list, size_t n, bool summary, struct jsonw *w);

#endif
