/*
 * Checks of a valid manifest against the host it is checked on: the users and
 * groups it names exist, its env_files and secret files are regular files
 * this process can read. mcpd -n makes them errors (it checks where it will
 * run); mcpctl check makes them warnings (it may run elsewhere). These call
 * NSS and stat files: never on mcpd's loop.
 */
#ifndef MCPD_HOSTCHECK_H
#define MCPD_HOSTCHECK_H
#include <stdbool.h>

#include "manifest.h"

/* Adds a problem to errs for each failed check. Returns how many were added. */
size_t manifest_check_host(const struct manifest *m, bool as_errors, struct manifest_errors *errs);

#endif
