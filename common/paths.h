/*
 * Where the control socket lives. mcpd and mcpctl share this rule, so that
 * mcpctl finds a daemon without options whenever mcpd was started without them.
 */
#ifndef MCPD_PATHS_H
#define MCPD_PATHS_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The longest socket path: sun_path less its terminating NUL. */
#define CONTROL_SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/*
 * The default control socket: $RUNTIME_DIRECTORY/control.sock (the first
 * directory when systemd lists several, separated by ':'); else
 * RUNSTATEDIR/mcpd/control.sock for root (/run unless configure was given
 * --runstatedir); else $XDG_RUNTIME_DIR/mcpd/control.sock;
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

/*
 * Is path the per-user default in a directory another user could create
 * first ($XDG_RUNTIME_DIR/mcpd, /tmp/mcpd-UID): a non-root user's default
 * when $RUNTIME_DIRECTORY is not set?
 */
bool control_socket_is_user_default(const char *path);

/*
 * Is dir fit to hold mcpd's control socket, for a daemon running as uid?
 * It must be a directory (not a symlink) owned by uid or root, and not
 * writable by group or others unless it has the sticky bit (like /tmp).
 * private (the per-user defaults): owned by uid, and without any group or
 * other permission; a directory of uid's with more is tightened to 0700.
 * Returns 0, or a negative errno and a message naming the directory, its
 * owner and mode.
 */
int control_dir_check(const char *dir, uid_t uid, bool private, char **ret_error);

/*
 * mcpctl's check of the daemon behind a socket: peer_uid (SO_PEERCRED) must
 * be root or uid; or own the socket's directory, when that directory's parent
 * is writable by root alone (/run/mcpd of a service user): then no other user
 * could have put it there.
 */
bool control_peer_trusted(const char *path, uid_t peer_uid, uid_t uid);

#endif
