/*
 * Where the control socket lives. mcpd and mcpctl share this rule, so that
 * mcpctl finds a daemon without options whenever mcpd was started without them.
 */
#ifndef MCPD_PATHS_H
#define MCPD_PATHS_H

#include <sys/socket.h>
#include <sys/un.h>

/* The longest socket path: sun_path less its terminating NUL. */
#define CONTROL_SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/*
 * The default control socket: $RUNTIME_DIRECTORY/control.sock (the first
 * directory when systemd lists several, separated by ':'); else
 * /run/mcpd/control.sock for root; else $XDG_RUNTIME_DIR/mcpd/control.sock;
 * else /tmp/mcpd-UID/control.sock. Empty or relative variables are ignored.
 * Returns 0 and a string the caller frees, or -ENAMETOOLONG when the path
 * does not fit in a sockaddr_un.
 */
int control_socket_default(char **ret_path);

/*
 * The socket mcpctl talks to: opt_s (-s) when not NULL, else $MCPD_SOCKET
 * when set and not empty, else manifest_control (mcpd.control of the
 * manifest given with -c) when not NULL, else the default above.
 * Returns 0 and a string the caller frees, or -ENAMETOOLONG.
 */
int control_socket_resolve(const char *opt_s, const char *manifest_control, char **ret);

#endif
