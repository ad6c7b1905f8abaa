/* The status document: see status.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "daemon.h"
#include "history.h"
#include "jsonw.h"
#include "server.h"
#include "status.h"

void status_write(const struct daemon *d, struct server *const *list, size_t n, bool summary, struct jsonw *w)
{
	cJSON *manifest = history_manifest_json(d->history);

	jsonw_char(w, '{');
	jsonw_key(w, "health");
	jsonw_string(w, daemon_health(d));
	jsonw_key(w, "manifest");
	jsonw_value(w, manifest);
	jsonw_key(w, "servers");
	jsonw_char(w, '[');
	for (size_t i = 0; i < n; i++) {
		jsonw_item(w);
		server_status_write(list[i], w, summary);
	}
	jsonw_bytes(w, "]}", 2);
	cJSON_Delete(manifest);
}
