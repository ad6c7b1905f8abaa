/* The HTTP gateway to supervised stdio servers (POST /mcp/NAME): see gateway.c. */
#ifndef MCPD_GATEWAY_H
#define MCPD_GATEWAY_H

#include <microhttpd.h>
#include <stddef.h>

struct daemon;
struct gateway;

#define GATEWAY_MAX_BODY	(4 * 1024 * 1024)
#define GATEWAY_IDLE_SECONDS	3600.	/* a session unused this long is closed */

/* run(arg) makes the HTTP server run once more (after a suspended request resumes). */
struct gateway *gateway_new(struct daemon *d, void (*run)(void *), void *arg, char **ret_error);
void gateway_free(struct gateway *g);

/* Before MHD stops: every suspended request and stream is woken to end (MHD refuses to stop otherwise). */
void gateway_wake_all(struct gateway *g);

/* An MHD access handler call for a /mcp/ URL. */
enum MHD_Result gateway_request(struct gateway *g, struct MHD_Connection *conn, const char *url, const char *method,
				const char *upload_data, size_t *upload_data_size, void **con_cls);

/* MHD is done with a request the gateway handled. */
void gateway_request_done(struct gateway *g, void *con_cls);

#endif
