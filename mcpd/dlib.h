/*
 * Loading a shared library on first use (dlopen) into a table of function
 * pointers: for the libraries only some manifests need (libcurl, curl-dl.h;
 * libmicrohttpd, mhd-dl.h), so that mcpd without them does not carry their
 * pages (and those of everything they pull in) in its resident memory.
 */
#ifndef MCPD_DLIB_H
#define MCPD_DLIB_H

#include <stdbool.h>
#include <stddef.h>

struct dlib_sym {
	const char *name;
	void **slot;		/* where the address goes */
};

/*
 * Open soname and look every symbol up: 0 with every slot set, or -1 with
 * error (what names the library, e.g. "libcurl") saying why and no slot
 * touched. The library stays loaded for the life of mcpd.
 */
int dlib_load(const char *what, const char *soname, const struct dlib_sym *syms, size_t n, char *error,
	      size_t error_size);

/* One library's loading, tried once: later calls give the first outcome. */
struct dlib_once {
	bool tried;
	int outcome;
	char error[320];
};

/*
 * dlib_load() the first time (every slot set at once, or none), and its
 * outcome after: 0, or -1 with *ret_error (in once, never NULL) saying why.
 */
int dlib_load_once(struct dlib_once *once, const char *what, const char *soname, const struct dlib_sym *syms,
		   size_t n, const char **ret_error);

#endif
