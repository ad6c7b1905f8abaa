/*
 * libcurl's multi interface driven by mcpd's libev loop: curl tells which
 * sockets and timeout it waits for, libev watches them, nothing blocks.
 * libcurl itself is loaded by the first curl_ev_new() (curl-dl.h).
 */
#ifndef MCPD_CURL_EV_H
#define MCPD_CURL_EV_H

#include <ev.h>

#include "curl-dl.h"

struct curl_ev;

typedef void (*curl_ev_done_fn)(CURL *easy, CURLcode result, void *userdata);

/* NULL when libcurl cannot be loaded: *ret_error (static) says why. */
struct curl_ev *curl_ev_new(struct ev_loop *loop, const char **ret_error);
void curl_ev_free(struct curl_ev *c);

/*
 * Start a configured transfer (on the next loop iteration: curl refuses new
 * transfers from inside its own callbacks); done is called once, later.
 */
int curl_ev_add(struct curl_ev *c, CURL *easy, curl_ev_done_fn done, void *userdata);

/* Abandon a transfer: done is not called. Nothing to do when c is NULL. */
void curl_ev_remove(struct curl_ev *c, CURL *easy);

#endif
