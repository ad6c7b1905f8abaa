/* libsystemd loaded when mcpd runs under systemd: see systemd-dl.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif


#include "dlib.h"
#include "systemd-dl.h"

#ifndef MCPD_LIBSYSTEMD
#define MCPD_LIBSYSTEMD "libsystemd.so.0"
#endif

struct systemd_dl systemd_dl;

#define SYM(field, name) { name, (void **)&systemd_dl.field }

int systemd_dl_load(const char **ret_error)
{
	static struct dlib_once once;
	const struct dlib_sym syms[] = {
		SYM(notify, "sd_notify"),
		SYM(watchdog_enabled, "sd_watchdog_enabled"),
		SYM(listen_fds_with_names, "sd_listen_fds_with_names"),
	};

	/* Every slot is set at once, or none: never half stand-ins, half the library. */
	return dlib_load_once(&once, "libsystemd", MCPD_LIBSYSTEMD, syms, sizeof(syms) / sizeof(*syms), ret_error);
}
