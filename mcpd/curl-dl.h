/*
 * libcurl, loaded on first use: mcpd links no libcurl, so a manifest without
 * an http server or a jwks_url never maps it (nor its TLS stack and the rest
 * it pulls in: about 1.6 MiB of mcpd's resident memory). curl_dl_load() opens
 * it; until it succeeds the functions below are stand-ins that do nothing and
 * fail (curl_easy_init gives NULL), so no caller can call through NULL. The
 * code keeps curl's own names: the macros at the end route them here.
 */
#ifndef MCPD_CURL_DL_H
#define MCPD_CURL_DL_H

#define CURL_DISABLE_TYPECHECK	/* the setopt checks are macros over the names redefined below */
#include <curl/curl.h>

struct curl_dl {
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_socket_action) *multi_socket_action;
	__typeof__(curl_multi_assign) *multi_assign;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
};

extern struct curl_dl curl_dl;

/*
 * Load libcurl (once; later calls return the first outcome): 0, or -1 with
 * *ret_error (static, never NULL) saying why, e.g. the dynamic loader's message.
 */
int curl_dl_load(const char **ret_error);

#ifndef CURL_DL_SELF
/* curl.h may have made these three macros already (its type checks, or plain pass-throughs). */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_easy_init (curl_dl.easy_init)
#define curl_easy_setopt (curl_dl.easy_setopt)
#define curl_easy_getinfo (curl_dl.easy_getinfo)
#define curl_easy_reset (curl_dl.easy_reset)
#define curl_easy_cleanup (curl_dl.easy_cleanup)
#define curl_easy_strerror (curl_dl.easy_strerror)
#define curl_slist_append (curl_dl.slist_append)
#define curl_slist_free_all (curl_dl.slist_free_all)
#define curl_multi_init (curl_dl.multi_init)
#define curl_multi_setopt (curl_dl.multi_setopt)
#define curl_multi_add_handle (curl_dl.multi_add_handle)
#define curl_multi_remove_handle (curl_dl.multi_remove_handle)
#define curl_multi_info_read (curl_dl.multi_info_read)
#define curl_multi_socket_action (curl_dl.multi_socket_action)
#define curl_multi_assign (curl_dl.multi_assign)
#define curl_multi_cleanup (curl_dl.multi_cleanup)
#endif

#endif
