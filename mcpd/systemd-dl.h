/*
 * libsystemd, loaded when mcpd runs under systemd ($NOTIFY_SOCKET or
 * $LISTEN_FDS set): mcpd links no libsystemd, so in a terminal it never maps
 * it and what it pulls in (libgcrypt, liblzma, libzstd, liblz4, libcap:
 * about 0.9 MiB of resident memory). Only sdnotify.c calls it.
 */
#ifndef MCPD_SYSTEMD_DL_H
#define MCPD_SYSTEMD_DL_H

#include <systemd/sd-daemon.h>

struct systemd_dl {
	__typeof__(sd_notify) *notify;
	__typeof__(sd_watchdog_enabled) *watchdog_enabled;
	__typeof__(sd_listen_fds_with_names) *listen_fds_with_names;
};

extern struct systemd_dl systemd_dl;

/*
 * Load libsystemd (once; later calls return the first outcome): 0, or -1
 * with *ret_error (static, never NULL) saying why.
 */
int systemd_dl_load(const char **ret_error);

#endif
