/*
 * approvals: see approvals.h. Each step of a held call is one audit line,
 * "approval: STEP id=ID ..." (requested, approved, denied, expired,
 * withdrawn, executed, result), at notice level.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "approvals-preview.h"
#include "approvals.h"
#include "daemon.h"
#include "duration.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-era.h"
#include "metrics.h"
#include "relay-internal.h"
#include "relay.h"
#include "server.h"
#include "sha256.h"
#include "xmalloc.h"

enum decision { D_APPROVED, D_DENIED, D_EXPIRED, D_WITHDRAWN, D__COUNT };

static const char *const decision_names[D__COUNT] = { "approved", "denied", "expired", "withdrawn" };

/* A tools/call waiting for a human. */
struct held {
	char id[APPROVALS_ID_LEN + 1];
	char *agent;			/* NULL: the owner (shown "-") */
	char *server;
	char *tool;
	char preview[APPROVALS_PREVIEW_MAX + 1];
	char sha256[SHA256_HEX_LEN + 1];	/* of the arguments as compact JSON */
	double asked, expires;		/* ev_now */
	uint64_t timeout_ms;
	struct session *sess;		/* valid while held: approvals_session_gone takes it out first */
	struct ev_loop *loop;
	cJSON *req;			/* the client's request, as parsed */
	cJSON *client_id;		/* its id as the sink answers it */
	cJSON *token;			/* its _meta.progressToken, or NULL */
	double progress;
	ev_timer expiry_w, progress_w;
	struct held *next;
};

static struct {
	struct held *head;		/* oldest first */
	size_t n;
	uint64_t totals[D__COUNT];
	uint64_t refused;		/* over the budget, since the last summary */
	char releasing[APPROVALS_ID_LEN + 1];	/* the call relay_release is sending now */
	bool tagged;			/* ... became a request in flight */
} A;

static const char *agent_name(const char *agent)
{
	return agent ? agent : "-";
}

/*
 * One audit line: the text says it all; with log_format: json the step and
 * the call's facts are fields too (approval, step, agent, tool, sha256, by,
 * outcome). h NULL: a result, known by its approval id alone.
 */
static void audit(const char *server, const struct held *h, const char *approval, const char *step, const char *by,
		  const char *outcome, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void audit(const char *server, const struct held *h, const char *approval, const char *step, const char *by,
		  const char *outcome, const char *fmt, ...)
{
	const struct log_field fields[] = {
		{ .key = "approval", .value = h ? h->id : approval },
		{ .key = "step", .value = step },
		{ .key = "agent", .value = h ? agent_name(h->agent) : NULL },
		{ .key = "tool", .value = h ? h->tool : NULL },
		{ .key = "sha256", .value = h ? h->sha256 : NULL },
		{ .key = "by", .value = by },
		{ .key = "outcome", .value = outcome },
	};
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_fields(LOG_LVL_NOTICE, server, fields, sizeof(fields) / sizeof(fields[0]), "%s", text);
}

static bool needs_approval(const struct server_conf *c, const char *tool)
{
	if (c->approval_all)
		return true;
	for (size_t i = 0; i < c->napproval; i++)
		if (strcmp(c->approval[i], tool) == 0)
			return true;
	return false;
}

static size_t held_by(const char *agent)
{
	size_t n = 0;

	for (const struct held *h = A.head; h; h = h->next)
		if ((!agent && !h->agent) || (agent && h->agent && strcmp(agent, h->agent) == 0))
			n++;
	return n;
}

static struct held *find(const char *id)
{
	for (struct held *h = A.head; h; h = h->next)
		if (strcmp(h->id, id) == 0)
			return h;
	return NULL;
}

/* 8 hex digits from getrandom, unlike any held now: -errno when the kernel gives none. */
static int new_id(char id[APPROVALS_ID_LEN + 1])
{
	unsigned char raw[APPROVALS_ID_LEN / 2];

	for (int tries = 0; tries < 8; tries++) {
		if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw))
			return -errno;
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(id + 2 * i, 3, "%02x", raw[i]);
		if (!find(id))
			return 0;
	}
	return -EEXIST;
}

/*
 * Who decided: "NAME (uid N)" from /etc/passwd, read directly: getpwuid may
 * ask NSS (LDAP, sssd) over the network and block the loop. "uid N" when the
 * file does not name it.
 */
static void who(uid_t uid, char *buf, size_t size)
{
	FILE *f;
	struct passwd *pw;
	unsigned entries = 0;

	snprintf(buf, size, "uid %u", (unsigned)uid);
	f = fopen("/etc/passwd", "re");
	if (!f)
		return;
	while (entries++ < 100000 && (pw = fgetpwent(f))) {
		if (pw->pw_uid == uid) {
			snprintf(buf, size, "%.64s (uid %u)", pw->pw_name, (unsigned)uid);
			break;
		}
	}
	fclose(f);
}

static void held_unlink(struct held *h)
{
	for (struct held **pp = &A.head; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	A.n--;
	ev_timer_stop(h->loop, &h->expiry_w);
	ev_timer_stop(h->loop, &h->progress_w);
	if (A.refused && A.n < APPROVALS_MAX / 2) {
		log_notice(NULL, NULL, "approval: %" PRIu64 " tool calls were refused while the held calls were at "
			   "their budget (%d in all, %d per agent)", A.refused, APPROVALS_MAX, APPROVALS_MAX_PER_AGENT);
		A.refused = 0;
	}
}

static void held_free(struct held *h)
{
	free(h->agent);
	free(h->server);
	free(h->tool);
	cJSON_Delete(h->req);
	cJSON_Delete(h->client_id);
	cJSON_Delete(h->token);
	free(h);
}

/* The client gets a JSON-RPC error naming the decision, the approval and why; h is unlinked, then freed. */
static void answer_denied(struct held *h, enum decision d, const char *message, const char *reason)
{
	cJSON *data = cJSON_CreateObject();
	cJSON *msg;

	cJSON_AddStringToObject(data, "approval", h->id);
	cJSON_AddStringToObject(data, "decision", decision_names[d]);
	if (reason)
		cJSON_AddStringToObject(data, "reason", reason);
	msg = jsonrpc_error_new(h->client_id, MCPD_ERR_DENIED, message, data);
	relay_session_send(h->sess, msg);
	cJSON_Delete(msg);
	held_free(h);
}

static void on_expiry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct held *h = w->data;
	char after[32], message[512];

	duration_format(h->timeout_ms, after, sizeof(after));
	held_unlink(h);
	A.totals[D_EXPIRED]++;
	audit(h->server, h, NULL, "expired", NULL, NULL,
	      "approval: expired id=%s agent=%s server=%s tool=%s: not approved within %s "
	      "(approval_timeout); the client gets a denial", h->id, agent_name(h->agent), h->server, h->tool, after);
	snprintf(message, sizeof(message), "denied: the call of tool \"%s\" on server \"%s\" was not approved within %s "
		 "(approval %s)", h->tool, h->server, after, h->id);
	answer_denied(h, D_EXPIRED, message, NULL);
}

/* notifications/progress for a held call's progressToken: the client's own timeout starts again. */
static void send_progress(struct held *h)
{
	cJSON *params = cJSON_CreateObject();
	cJSON *msg;
	char text[160];

	h->progress++;
	cJSON_AddItemToObject(params, "progressToken", cJSON_Duplicate(h->token, 1));
	cJSON_AddNumberToObject(params, "progress", h->progress);
	snprintf(text, sizeof(text), "waiting for approval %s: mcpctl approve %s", h->id, h->id);
	cJSON_AddStringToObject(params, "message", text);
	msg = jsonrpc_notification_new("notifications/progress", params);
	relay_session_send(h->sess, msg);	/* may drop a client that does not read: h is gone then */
	cJSON_Delete(msg);
}

static void on_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_progress(w->data);
}

bool approvals_hold(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = relay_session_server(sess);
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	const char *tool = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "name"));
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "_meta"),
								"progressToken");
	const char *agent = relay_session_agent(sess);
	char message[400], after[32];
	struct held *h, **tail;
	char *text;

	if (!method || strcmp(method, "tools/call") != 0 || !tool || !needs_approval(&s->conf, tool))
		return false;
	if (s->d->shutting_down) {
		snprintf(message, sizeof(message), "denied: the call of tool \"%.128s\" on server \"%s\" needs approval, "
			 "and mcpd is stopping", tool, s->conf.name);
		relay_session_error(sess, id, MCPD_ERR_DENIED, message);
		return true;
	}
	if (A.n >= APPROVALS_MAX || held_by(agent) >= APPROVALS_MAX_PER_AGENT) {
		if (A.refused++ == 0)
			log_warning(s->conf.name, NULL, "approval: %zu tool calls are held (%zu of agent %s): more are refused "
				    "with an error, not held and not run, until half of them are decided (at most %d in all, "
				    "%d per agent)", A.n, held_by(agent), agent_name(agent), APPROVALS_MAX,
				    APPROVALS_MAX_PER_AGENT);
		snprintf(message, sizeof(message), "the call of tool \"%.128s\" on server \"%s\" needs approval, and too "
			 "many calls wait for one (at most %d in all, %d per agent): it was not held and not run",
			 tool, s->conf.name, APPROVALS_MAX, APPROVALS_MAX_PER_AGENT);
		relay_session_error(sess, id, MCPD_ERR_UNAVAILABLE, message);
		return true;
	}
	h = xcalloc(1, sizeof(*h));
	if (new_id(h->id) < 0) {
		free(h);
		log_error(s->conf.name, NULL, "approval: cannot make an approval id (getrandom: %s); the call of tool "
			  "\"%.128s\" is refused", strerror(errno), tool);
		relay_session_error(sess, id, MCPD_ERR_UNAVAILABLE, "cannot make an approval id: the call was not run");
		return true;
	}
	h->agent = agent ? xstrdup(agent) : NULL;
	h->server = xstrdup(s->conf.name);
	h->tool = xstrdup(tool);
	text = args ? cJSON_PrintUnformatted(args) : NULL;
	sha256_hex(text ? text : "{}", text ? strlen(text) : 2, h->sha256);
	free(text);
	approvals_preview(args, h->preview, sizeof(h->preview));
	h->loop = s->d->loop;
	h->asked = ev_now(h->loop);
	h->timeout_ms = s->conf.approval_timeout_ms;
	h->expires = h->asked + (double)h->timeout_ms / 1000.;
	h->sess = sess;
	h->req = cJSON_Duplicate(req, 1);
	h->client_id = cJSON_Duplicate(id, 1);
	h->token = token ? cJSON_Duplicate(token, 1) : NULL;
	for (tail = &A.head; *tail; tail = &(*tail)->next)
		;
	*tail = h;
	A.n++;
	ev_timer_init(&h->expiry_w, on_expiry, (double)h->timeout_ms / 1000., 0.);
	h->expiry_w.data = h;
	ev_timer_start(h->loop, &h->expiry_w);
	ev_timer_init(&h->progress_w, on_progress, APPROVALS_PROGRESS_SECONDS, APPROVALS_PROGRESS_SECONDS);
	h->progress_w.data = h;
	duration_format(h->timeout_ms, after, sizeof(after));
	audit(s->conf.name, h, NULL, "requested", NULL, NULL,
	      "approval: requested id=%s agent=%s server=%s tool=%s sha256=%s: held until "
	      "`mcpctl approve %s` or `mcpctl deny %s` (denied after %s)", h->id, agent_name(h->agent), h->server,
	      h->tool, h->sha256, h->id, h->id, after);
	relay_session_held(sess, id, (double)h->timeout_ms / 1000.);
	if (h->token) {
		ev_timer_start(h->loop, &h->progress_w);
		send_progress(h);	/* last: h may be gone after it */
	}
	return true;
}

static void withdraw(struct held *h, const char *why)
{
	held_unlink(h);
	A.totals[D_WITHDRAWN]++;
	audit(h->server, h, NULL, "withdrawn", NULL, NULL,
	      "approval: withdrawn id=%s agent=%s server=%s tool=%s: %s; the call is not run", h->id,
	      agent_name(h->agent), h->server, h->tool, why);
	held_free(h);
}

void approvals_follow(const struct server *s, const char *why)
{
	for (struct held *h = A.head; h; h = h->next) {
		if (relay_session_server(h->sess) != s || strcmp(h->server, s->conf.name) == 0)
			continue;
		audit(s->conf.name, h, NULL, "moved", NULL, NULL,
		      "approval: moved id=%s agent=%s server=%s tool=%s: was held for %s (%s); still held until "
		      "`mcpctl approve %s` or `mcpctl deny %s`", h->id, agent_name(h->agent), s->conf.name, h->tool,
		      h->server, why, h->id, h->id);
		free(h->server);
		h->server = xstrdup(s->conf.name);
	}
}

void approvals_session_gone(struct session *sess)
{
	for (struct held *h = A.head, *next; h; h = next) {
		next = h->next;
		if (h->sess == sess)
			withdraw(h, "the client disconnected");
	}
}

void approvals_client_eof(struct session *sess)
{
	char message[512];

	for (struct held *h = A.head, *next; h; h = next) {
		next = h->next;
		if (h->sess != sess)
			continue;
		held_unlink(h);
		A.totals[D_WITHDRAWN]++;
		audit(h->server, h, NULL, "withdrawn", NULL, NULL,
		      "approval: withdrawn id=%s agent=%s server=%s tool=%s: the client closed its "
		      "input; the call is not run", h->id, agent_name(h->agent), h->server, h->tool);
		snprintf(message, sizeof(message), "withdrawn: the client closed its input while the call of tool \"%s\" "
			 "on server \"%s\" waited for approval %s; it was not run", h->tool, h->server, h->id);
		answer_denied(h, D_WITHDRAWN, message, NULL);	/* may drop the client: the next are withdrawn then */
		next = A.head;	/* the list may have changed under the answer */
	}
}

bool approvals_cancel(struct session *sess, const cJSON *request_id)
{
	for (struct held *h = A.head; h && request_id; h = h->next) {
		if (h->sess == sess && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(h->req, "id"), request_id, 1)) {
			withdraw(h, "the client cancelled it");
			return true;
		}
	}
	return false;
}

cJSON *approvals_list(const struct daemon *d)
{
	cJSON *list = cJSON_CreateArray();
	double now = ev_now(d->loop);

	for (const struct held *h = A.head; h; h = h->next) {
		cJSON *o = cJSON_CreateObject();
		double left = h->expires - now;

		cJSON_AddStringToObject(o, "id", h->id);
		cJSON_AddStringToObject(o, "agent", agent_name(h->agent));
		cJSON_AddStringToObject(o, "server", h->server);
		cJSON_AddStringToObject(o, "tool", h->tool);
		cJSON_AddStringToObject(o, "preview", h->preview);
		cJSON_AddStringToObject(o, "sha256", h->sha256);
		cJSON_AddNumberToObject(o, "age_s", (double)(uint64_t)(now - h->asked));
		cJSON_AddNumberToObject(o, "expires_in_s", left > 0 ? (double)(uint64_t)left : 0.);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

int approvals_approve(const char *id, uid_t uid)
{
	struct held *h = find(id);
	char by[96];
	bool sent;

	if (!h)
		return -ENOENT;
	/* Out of the list before it is sent: it runs once, whatever the relay does under this call. */
	held_unlink(h);
	A.totals[D_APPROVED]++;
	who(uid, by, sizeof(by));
	audit(h->server, h, NULL, "approved", by, NULL,
	      "approval: approved id=%s agent=%s server=%s tool=%s sha256=%s by %s", h->id, agent_name(h->agent),
	      h->server, h->tool, h->sha256, by);
	relay_session_held(h->sess, h->client_id, 0.);	/* the sink's own deadline applies again */
	snprintf(A.releasing, sizeof(A.releasing), "%s", h->id);
	A.tagged = false;
	relay_release(h->sess, h->req, h->client_id);
	sent = A.tagged;
	A.releasing[0] = '\0';
	if (sent)
		audit(h->server, h, NULL, "executed", NULL, NULL,
		      "approval: executed id=%s server=%s tool=%s: sent to the server", h->id, h->server, h->tool);
	else
		audit(h->server, h, NULL, "result", NULL, "error",
		      "approval: result id=%s server=%s tool=%s error: not sent to the server "
		      "(it is not running or busy, or the client left); the client got mcpd's error", h->id,
		      h->server, h->tool);
	held_free(h);
	return 0;
}

int approvals_deny(const char *id, uid_t uid, const char *reason)
{
	struct held *h = find(id);
	char by[96], message[640];

	if (!h)
		return -ENOENT;
	held_unlink(h);
	A.totals[D_DENIED]++;
	who(uid, by, sizeof(by));
	audit(h->server, h, NULL, "denied", by, NULL,
	      "approval: denied id=%s agent=%s server=%s tool=%s by %s: %s", h->id, agent_name(h->agent), h->server,
	      h->tool, by, reason ? reason : "no reason given");
	snprintf(message, sizeof(message), "denied: the call of tool \"%s\" on server \"%s\" was denied by %s "
		 "(approval %s): %s", h->tool, h->server, by, h->id, reason ? reason : "no reason given");
	answer_denied(h, D_DENIED, message, reason);
	return 0;
}

void approvals_stop(void)
{
	char message[512];

	while (A.head) {
		struct held *h = A.head;

		held_unlink(h);
		A.totals[D_DENIED]++;
		audit(h->server, h, NULL, "denied", "mcpd", NULL,
		      "approval: denied id=%s agent=%s server=%s tool=%s by mcpd: mcpd is stopping", h->id,
		      agent_name(h->agent), h->server, h->tool);
		snprintf(message, sizeof(message), "denied: the call of tool \"%s\" on server \"%s\" was not approved "
			 "before mcpd is stopping (approval %s)", h->tool, h->server, h->id);
		answer_denied(h, D_DENIED, message, "mcpd is stopping");
	}
}

void approvals_tag(char *buf, size_t size)
{
	if (!A.releasing[0] || A.tagged) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, size, "%s", A.releasing);
	A.tagged = true;
}

void approvals_answered(const char *server, const char *approval, const cJSON *msg, const char *why)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");

	if (!msg)
		audit(server, NULL, approval, "result", NULL, "error",
		      "approval: result id=%s error: %s", approval, why);
	else if (error)
		audit(server, NULL, approval, "result", NULL, "error",
		      "approval: result id=%s error code=%d", approval,
		      (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(error, "code")));
	else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError")))
		audit(server, NULL, approval, "result", NULL, "error",
		      "approval: result id=%s error: the tool reported isError", approval);
	else
		audit(server, NULL, approval, "result", NULL, "ok",
		      "approval: result id=%s ok", approval);
}

void approvals_metrics(struct metrics_buf *b)
{
	metrics_family(b, "mcpd_approvals_pending", "gauge", "Tool calls held now for a human's approval.");
	metrics_printf(b, "mcpd_approvals_pending %zu\n", A.n);
	metrics_family(b, "mcpd_approvals_total", "counter", "Held tool calls by how their wait ended: approved, "
		       "denied (by mcpctl deny or a stopping mcpd), expired (approval_timeout), withdrawn (the client left).");
	for (int d = 0; d < D__COUNT; d++)
		metrics_printf(b, "mcpd_approvals_total{decision=\"%s\"} %" PRIu64 "\n", decision_names[d], A.totals[d]);
}
