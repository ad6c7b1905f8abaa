/* libcurl loaded on first use: see curl-dl.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif


#define CURL_DL_SELF
#include "curl-dl.h"
#include "dlib.h"

#ifndef MCPD_LIBCURL
#define MCPD_LIBCURL "libcurl.so.4"
#endif

/* Stand-ins until libcurl is loaded: nothing is done, everything fails. */
static CURL *no_easy_init(void)
{
	return NULL;
}

static CURLcode no_easy_setopt(CURL *curl, CURLoption option, ...)
{
	return CURLE_FAILED_INIT;
}

static CURLcode no_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	return CURLE_FAILED_INIT;
}

static void no_easy(CURL *curl)
{
}

static const char *no_easy_strerror(CURLcode code)
{
	return "libcurl is not loaded";
}

static struct curl_slist *no_slist_append(struct curl_slist *list, const char *s)
{
	return NULL;
}

static void no_slist_free_all(struct curl_slist *list)
{
}

static CURLM *no_multi_init(void)
{
	return NULL;
}

static CURLMcode no_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	return CURLM_BAD_HANDLE;
}

static CURLMcode no_multi_handle(CURLM *multi, CURL *curl)
{
	return CURLM_BAD_HANDLE;
}

static CURLMsg *no_multi_info_read(CURLM *multi, int *left)
{
	*left = 0;
	return NULL;
}

static CURLMcode no_multi_socket_action(CURLM *multi, curl_socket_t fd, int mask, int *running)
{
	*running = 0;
	return CURLM_BAD_HANDLE;
}

static CURLMcode no_multi_assign(CURLM *multi, curl_socket_t fd, void *p)
{
	return CURLM_BAD_HANDLE;
}

static CURLMcode no_multi_cleanup(CURLM *multi)
{
	return CURLM_BAD_HANDLE;
}

struct curl_dl curl_dl = {
	.easy_init = no_easy_init,
	.easy_setopt = no_easy_setopt,
	.easy_getinfo = no_easy_getinfo,
	.easy_reset = no_easy,
	.easy_cleanup = no_easy,
	.easy_strerror = no_easy_strerror,
	.slist_append = no_slist_append,
	.slist_free_all = no_slist_free_all,
	.multi_init = no_multi_init,
	.multi_setopt = no_multi_setopt,
	.multi_add_handle = no_multi_handle,
	.multi_remove_handle = no_multi_handle,
	.multi_info_read = no_multi_info_read,
	.multi_socket_action = no_multi_socket_action,
	.multi_assign = no_multi_assign,
	.multi_cleanup = no_multi_cleanup,
};

/* Every symbol, by name, and where it goes. */
#define SYM(field, name) { name, (void **)&curl_dl.field }

int curl_dl_load(const char **ret_error)
{
	static struct dlib_once once;
	const struct dlib_sym syms[] = {
		SYM(easy_init, "curl_easy_init"),
		SYM(easy_setopt, "curl_easy_setopt"),
		SYM(easy_getinfo, "curl_easy_getinfo"),
		SYM(easy_reset, "curl_easy_reset"),
		SYM(easy_cleanup, "curl_easy_cleanup"),
		SYM(easy_strerror, "curl_easy_strerror"),
		SYM(slist_append, "curl_slist_append"),
		SYM(slist_free_all, "curl_slist_free_all"),
		SYM(multi_init, "curl_multi_init"),
		SYM(multi_setopt, "curl_multi_setopt"),
		SYM(multi_add_handle, "curl_multi_add_handle"),
		SYM(multi_remove_handle, "curl_multi_remove_handle"),
		SYM(multi_info_read, "curl_multi_info_read"),
		SYM(multi_socket_action, "curl_multi_socket_action"),
		SYM(multi_assign, "curl_multi_assign"),
		SYM(multi_cleanup, "curl_multi_cleanup"),
	};

	/* Every slot is set at once, or none: never half stand-ins, half the library. */
	return dlib_load_once(&once, "libcurl", MCPD_LIBCURL, syms, sizeof(syms) / sizeof(*syms), ret_error);
}
