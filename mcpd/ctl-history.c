/* Control method `history`: the applied manifests, newest first (history.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "control.h"
#include "daemon.h"
#include "history.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	struct daemon *d = ctl_daemon(c);
	char msg[512];

	if (!history_enabled(d->history)) {
		snprintf(msg, sizeof(msg), "the manifest history is off: %s", history_off_reason(d->history));
		ctl_error(c, id, CTL_ERR_HISTORY, msg, NULL);
		return;
	}
	ctl_reply(c, id, history_list_json(d->history));
}

const struct ctl_method ctl_history = { .name = "history", .writes = false, .run = run };
