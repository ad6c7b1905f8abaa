/* Shared libraries loaded on first use: see dlib.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dlfcn.h>
#include <stdio.h>

#include "dlib.h"

int dlib_load(const char *what, const char *soname, const struct dlib_sym *syms, size_t n, char *error,
	      size_t error_size)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	void *found[64];

	if (!lib) {
		const char *why = dlerror();

		snprintf(error, error_size, "%s cannot be loaded (%s)", what, why ? why : soname);
		return -1;
	}
	if (n > sizeof(found) / sizeof(*found)) {
		snprintf(error, error_size, "%s cannot be loaded (%zu symbols: more than mcpd's table takes)", what, n);
		dlclose(lib);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		found[i] = dlsym(lib, syms[i].name);
		if (!found[i]) {
			snprintf(error, error_size, "%s cannot be loaded (%s has no %s)", what, soname, syms[i].name);
			dlclose(lib);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		*syms[i].slot = found[i];
	return 0;
}

int dlib_load_once(struct dlib_once *once, const char *what, const char *soname, const struct dlib_sym *syms,
		   size_t n, const char **ret_error)
{
	*ret_error = once->error;
	if (!once->tried) {
		once->tried = true;
		once->outcome = dlib_load(what, soname, syms, n, once->error, sizeof(once->error));
	}
	return once->outcome;
}
