/*
 * systemd integration: sd_notify (READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING) and the control socket passed by socket activation. Without
 * NOTIFY_SOCKET or LISTEN_FDS, every function here does nothing.
 */
#ifndef MCPD_SDNOTIFY_H
#define MCPD_SDNOTIFY_H

struct daemon;

void sdnotify_init(struct daemon *d);
void sdnotify_free(struct daemon *d);

/* The autostart servers were started (spawned, not necessarily running). */
void sdnotify_ready(struct daemon *d);

/* A server changed state: STATUS= is updated, at most once a second. */
void sdnotify_status_changed(struct daemon *d);

void sdnotify_reloading(struct daemon *d);
void sdnotify_reloaded(struct daemon *d);
void sdnotify_stopping(struct daemon *d);

/* The control socket systemd passed (named "control", or the only one), or -1. */
int sdnotify_listen_fd(void);

#endif
