/* The aggregate MCP endpoint: see aggregate.h. SCAFFOLD: nothing yet. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "aggregate.h"
