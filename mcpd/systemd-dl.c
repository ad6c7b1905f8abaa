/* libsystemd loaded when mcpd runs under systemd: see systemd-dl.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>

#include "dlib.h"
#include "systemd-dl.h"

#ifndef MCPD_LIBSYSTEMD
#define MCPD_LIBSYSTEMD "libsystemd.so.0"
#endif

struct systemd_dl systemd_dl;

#define SYM(field, name) { name, (void **)&loaded.field }

int systemd_dl_load(const char **ret_error)
{
	static bool tried;
	static int outcome;
	static char error[320];
	struct systemd_dl loaded = { 0 };
	const struct dlib_sym syms[] = {
		SYM(notify, "sd_notify"),
		SYM(watchdog_enabled, "sd_watchdog_enabled"),
		SYM(listen_fds_with_names, "sd_listen_fds_with_names"),
	};

	*ret_error = error;
	if (tried)
		return outcome;
	tried = true;
	outcome = dlib_load("libsystemd", MCPD_LIBSYSTEMD, syms, sizeof(syms) / sizeof(*syms), error, sizeof(error));
	if (outcome == 0)
		systemd_dl = loaded;
	return outcome;
}
