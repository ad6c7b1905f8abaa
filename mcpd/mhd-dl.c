/* libmicrohttpd loaded when the HTTP endpoint starts: see mhd-dl.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif


#define MHD_DL_SELF
#include "dlib.h"
#include "mhd-dl.h"

#ifndef MCPD_LIBMICROHTTPD
#define MCPD_LIBMICROHTTPD "libmicrohttpd.so.12"
#endif

struct mhd_dl mhd_dl;

#define SYM(field) { "MHD_" #field, (void **)&mhd_dl.field }

int mhd_dl_load(const char **ret_error)
{
	static struct dlib_once once;
	const struct dlib_sym syms[] = {
		SYM(start_daemon),
		SYM(stop_daemon),
		SYM(run),
		SYM(get_timeout),
		SYM(get_daemon_info),
		SYM(get_connection_info),
		SYM(set_connection_option),
		SYM(lookup_connection_value),
		SYM(suspend_connection),
		SYM(resume_connection),
		SYM(create_response_from_buffer),
		SYM(create_response_from_buffer_with_free_callback),
		SYM(create_response_from_callback),
		SYM(add_response_header),
		SYM(queue_response),
		SYM(destroy_response),
	};

	/* Every slot is set at once, or none: never half stand-ins, half the library. */
	return dlib_load_once(&once, "libmicrohttpd", MCPD_LIBMICROHTTPD, syms, sizeof(syms) / sizeof(*syms), ret_error);
}
