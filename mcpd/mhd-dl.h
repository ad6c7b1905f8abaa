/*
 * libmicrohttpd, loaded when the HTTP endpoint starts (mcpd.http): mcpd links
 * no libmicrohttpd, so without mcpd.http it never maps it nor its TLS stack
 * (about 2.5 MiB of resident memory). Only http.c and gateway.c call it, and
 * only once http_start() has loaded it. The code keeps MHD's own names: the
 * macros at the end route them to the table.
 */
#ifndef MCPD_MHD_DL_H
#define MCPD_MHD_DL_H

#include <microhttpd.h>

struct mhd_dl {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_run) *run;
	__typeof__(MHD_get_timeout) *get_timeout;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_set_connection_option) *set_connection_option;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_suspend_connection) *suspend_connection;
	__typeof__(MHD_resume_connection) *resume_connection;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_create_response_from_buffer_with_free_callback) *create_response_from_buffer_with_free_callback;
	__typeof__(MHD_create_response_from_callback) *create_response_from_callback;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
};

extern struct mhd_dl mhd_dl;

/*
 * Load libmicrohttpd (once; later calls return the first outcome): 0, or -1
 * with *ret_error (static, never NULL) saying why.
 */
int mhd_dl_load(const char **ret_error);

#ifndef MHD_DL_SELF
#define MHD_start_daemon (mhd_dl.start_daemon)
#define MHD_stop_daemon (mhd_dl.stop_daemon)
#define MHD_run (mhd_dl.run)
#define MHD_get_timeout (mhd_dl.get_timeout)
#define MHD_get_daemon_info (mhd_dl.get_daemon_info)
#define MHD_get_connection_info (mhd_dl.get_connection_info)
#define MHD_set_connection_option (mhd_dl.set_connection_option)
#define MHD_lookup_connection_value (mhd_dl.lookup_connection_value)
#define MHD_suspend_connection (mhd_dl.suspend_connection)
#define MHD_resume_connection (mhd_dl.resume_connection)
#define MHD_create_response_from_buffer (mhd_dl.create_response_from_buffer)
#define MHD_create_response_from_buffer_with_free_callback (mhd_dl.create_response_from_buffer_with_free_callback)
#define MHD_create_response_from_callback (mhd_dl.create_response_from_callback)
#define MHD_add_response_header (mhd_dl.add_response_header)
#define MHD_queue_response (mhd_dl.queue_response)
#define MHD_destroy_response (mhd_dl.destroy_response)
#endif

#endif
