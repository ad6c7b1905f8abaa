/* The sandbox of one server: see sandbox.h; the child's side (in libmcpdcore, for spawn.c). (Stub: filled in by issue 15.) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "sandbox.h"

int sandbox_child_privileged(const struct sandbox_plan *plan, char *err, size_t size)
{
	(void)plan;
	(void)err;
	(void)size;
	return 0;
}

int sandbox_child_restrict(const struct sandbox_plan *plan, char *err, size_t size)
{
	(void)plan;
	(void)err;
	(void)size;
	return 0;
}
