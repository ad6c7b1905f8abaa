/*
 * The manifest validator: walks the YAML tree with one table of keys per
 * section, so every key, its type and its default live in one place, and
 * reports every problem as FILE:LINE:COL: path: message.
 *
 * `defaults` is applied to a server by walking the defaults map onto it
 * before its own map (quietly: its problems were reported once already), so
 * nested maps merge key by key and env merges by name with no extra code.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "duration.h"
#include "manifest.h"
#include "readfile.h"
#include "strutil.h"
#include "strv.h"
#include "xmalloc.h"
#include "yamltree.h"

#define CONTROL_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define URL_MAX 2048
#define SHOWN_VALUE_MAX 40

struct parse {
	const char *name;
	struct manifest_errors *errs;
	unsigned flags;
	struct manifest *m;
	bool quiet;				/* re-applying defaults: reported already */
	const struct ynode *defaults;		/* the defaults map, for locating values */
	const struct ynode **dep_nodes;		/* per server: its depends_on node */
	size_t cur;				/* index of the server being read */
	const char *hinted;			/* last "did you mean" key: not also "missing" */
};

typedef bool (*field_fn)(struct parse *p, const struct ynode *n, const char *path, void *field);

enum {
	F_SERVER_ONLY = 1 << 0,	/* not allowed in defaults */
};

struct field {
	const char *key;
	field_fn parse;			/* NULL for a nested map: sub describes its keys */
	size_t offset;
	unsigned flags;
	const struct field *sub;
	size_t nsub;
};

/* ---- problems ---------------------------------------------------------- */

static void problem(struct parse *p, bool warning, unsigned line, unsigned col, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void vproblem(struct parse *p, bool warning, unsigned line, unsigned col, const char *path,
		     const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static void vproblem(struct parse *p, bool warning, unsigned line, unsigned col, const char *path,
		     const char *fmt, va_list ap)
{
	struct manifest_errors *errs = p->errs;
	char msg[1024];
	struct manifest_error *e;

	if (p->quiet)
		return;
	if (!warning)
		errs->nerrors++;
	if (errs->n >= MANIFEST_MAX_ERRORS) {
		errs->truncated = true;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	errs->items = xreallocarray(errs->items, errs->n + 1, sizeof(*errs->items));
	e = &errs->items[errs->n++];
	e->line = line;
	e->col = col;
	e->warning = warning;
	if (line == 0 && path && *path)
		xasprintf(&e->text, "%s: %s%s: %s", p->name, warning ? "warning: " : "", path, msg);
	else if (line == 0)
		xasprintf(&e->text, "%s: %s%s", p->name, warning ? "warning: " : "", msg);
	else if (path && *path)
		xasprintf(&e->text, "%s:%u:%u: %s%s: %s", p->name, line, col, warning ? "warning: " : "", path, msg);
	else
		xasprintf(&e->text, "%s:%u:%u: %s%s", p->name, line, col, warning ? "warning: " : "", msg);
}

static void problem(struct parse *p, bool warning, unsigned line, unsigned col, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(p, warning, line, col, path, fmt, ap);
	va_end(ap);
}

static void error_at(struct parse *p, const struct ynode *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void error_at(struct parse *p, const struct ynode *n, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(p, false, n ? n->line : 1, n ? n->col : 1, path, fmt, ap);
	va_end(ap);
}

static void on_yaml_error(void *userdata, unsigned line, unsigned col, const char *path, const char *message)
{
	problem(userdata, false, line, col, path, "%s", message);
}

/* How a value is shown in a message: quoted, shortened, control characters escaped. */
static void show(const struct ynode *n, char *buf, size_t size)
{
	size_t o = 0;

	if (ynode_is_null(n) || n->type != YNODE_SCALAR) {
		snprintf(buf, size, "%s", ynode_type_name(n));
		return;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < n->len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)n->value[i];

		if (i == SHOWN_VALUE_MAX) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, c == '"' || c == '\\' ? "\\%c" : "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	snprintf(buf + o, size - o, "\"");
}

static void expected(struct parse *p, const struct ynode *n, const char *path, const char *what)
{
	char got[64];

	show(n, got, sizeof(got));
	error_at(p, n, path, "expected %s, got %s", what, got);
}

static char *join_path(const char *parent, const char *key)
{
	char *r;

	xasprintf(&r, "%s%s%s", parent, *parent ? "." : "", key);
	return r;
}

static char *index_path(const char *parent, size_t i)
{
	char *r;

	xasprintf(&r, "%s[%zu]", parent, i);
	return r;
}

/* ---- scalars ----------------------------------------------------------- */

/* A non-null scalar without NUL bytes, or NULL after an error naming what was expected. */
static const char *scalar(struct parse *p, const struct ynode *n, const char *path, const char *what)
{
	if (!n || n->type != YNODE_SCALAR || ynode_is_null(n)) {
		expected(p, n, path, what);
		return NULL;
	}
	if (strlen(n->value) != n->len) {
		/* execve, the environment, paths and HTTP headers all end a string at a NUL. */
		error_at(p, n, path, "contains a NUL byte (\\0), which no argument, variable, path or header can carry");
		return NULL;
	}
	return n->value;
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

static bool parse_string(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a string");

	if (!s)
		return false;
	set_str(field, s);
	return true;
}

static char *resolve_path(const struct parse *p, const char *s)
{
	char *r;

	if (s[0] == '/')
		return xstrdup(s);
	xasprintf(&r, "%s/%s", p->m->dir, s);
	return r;
}

static bool parse_path(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a path");
	char **f = field;

	if (!s)
		return false;
	if (!*s) {
		error_at(p, n, path, "expected a path, got an empty string");
		return false;
	}
	if (strlen(s) >= PATH_MAX) {
		error_at(p, n, path, "path is longer than %d bytes", PATH_MAX - 1);
		return false;
	}
	free(*f);
	*f = resolve_path(p, s);
	return true;
}

static bool parse_bool(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	static const char *const yes[] = { "true", "yes", "on", "True", "Yes", "On", "TRUE", "YES", "ON" };
	static const char *const no[] = { "false", "no", "off", "False", "No", "Off", "FALSE", "NO", "OFF" };
	const char *s = scalar(p, n, path, "true or false");
	bool *b = field;

	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*b = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*b = false;
			return true;
		}
	}
	expected(p, n, path, "true or false");
	return false;
}

static bool parse_duration(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a duration like \"1s\"");
	int r;

	if (!s)
		return false;
	r = duration_parse(s, field);
	if (r == -ERANGE) {
		error_at(p, n, path, "duration \"%.40s\" is longer than 30 days", s);
		return false;
	}
	if (r < 0) {
		expected(p, n, path, "a duration like \"1s\"");
		return false;
	}
	return true;
}

/* A decimal integer in [min, max]. */
static bool parse_uint_range(struct parse *p, const struct ynode *n, const char *path, uint64_t min,
			     uint64_t max, uint64_t *ret)
{
	const char *s = scalar(p, n, path, "a whole number");
	unsigned long long v;
	char *end;

	if (!s)
		return false;
	errno = 0;
	if (!isdigit((unsigned char)s[0]) || (v = strtoull(s, &end, 10), *end) || errno) {
		expected(p, n, path, "a whole number");
		return false;
	}
	if (v < min || v > max) {
		error_at(p, n, path, "%llu is out of range (%llu to %llu)", v, (unsigned long long)min,
			 (unsigned long long)max);
		return false;
	}
	*ret = v;
	return true;
}

static bool parse_double_range(struct parse *p, const struct ynode *n, const char *path, double min, double max,
			       double *ret)
{
	const char *s = scalar(p, n, path, "a number");
	double v;
	char *end;

	if (!s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || !(isdigit((unsigned char)s[0]) || s[0] == '.')) {
		expected(p, n, path, "a number");
		return false;
	}
	if (v < min || v > max) {
		error_at(p, n, path, "%s is out of range (%g to %g)", s, min, max);
		return false;
	}
	*ret = v;
	return true;
}

static bool parse_choice(struct parse *p, const struct ynode *n, const char *path, const char *const *choices,
			 size_t nchoices, int *ret)
{
	char what[128] = "";
	size_t o = 0;
	const char *s;

	for (size_t i = 0; i < nchoices && o < sizeof(what); i++)
		o += (size_t)snprintf(what + o, sizeof(what) - o, "%s%s", i == 0 ? "" : i + 1 == nchoices ? " or " : ", ",
				      choices[i]);
	s = scalar(p, n, path, what);
	if (!s)
		return false;
	for (size_t i = 0; i < nchoices; i++) {
		if (strcmp(s, choices[i]) == 0) {
			*ret = (int)i;
			return true;
		}
	}
	expected(p, n, path, what);
	return false;
}

static const char *const transport_names[] = { "stdio", "http" };
static const char *const restart_names[] = { "always", "on-failure", "never" };
static const char *const log_format_names[] = { "text", "json" };
static const char *const protocol_names[] = { "auto", "modern", "legacy" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bool parse_transport(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	int v;

	if (!parse_choice(p, n, path, transport_names, NELEM(transport_names), &v))
		return false;
	*(enum transport *)field = (enum transport)v;
	return true;
}

static bool parse_protocol(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	int v;

	if (!parse_choice(p, n, path, protocol_names, NELEM(protocol_names), &v))
		return false;
	*(enum protocol_pin *)field = (enum protocol_pin)v;
	return true;
}

static bool parse_restart(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	int v;

	if (!parse_choice(p, n, path, restart_names, NELEM(restart_names), &v))
		return false;
	*(enum restart_policy *)field = (enum restart_policy)v;
	return true;
}

static bool parse_log_format(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	int v;

	if (!parse_choice(p, n, path, log_format_names, NELEM(log_format_names), &v))
		return false;
	*(enum log_format *)field = (enum log_format)v;
	return true;
}

/* ---- maps and lists ---------------------------------------------------- */

static const struct field *find_field(const struct field *fields, size_t nfields, const char *key)
{
	for (size_t i = 0; i < nfields; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

static void unknown_key(struct parse *p, const struct ynode *key, const char *path, const struct field *fields,
			size_t nfields, bool in_defaults)
{
	const char *names[64];
	size_t n = 0;
	const char *hint;

	for (size_t i = 0; i < nfields && n < NELEM(names); i++)
		if (!(in_defaults && (fields[i].flags & F_SERVER_ONLY)))
			names[n++] = fields[i].key;
	hint = str_suggest(key->value, names, n);
	p->hinted = hint;
	if (hint)
		error_at(p, key, path, "unknown key \"%.64s\" (did you mean \"%s\"?)", key->value, hint);
	else
		error_at(p, key, path, "unknown key \"%.64s\"", key->value);
}

static bool expect_map(struct parse *p, const struct ynode *n, const char *path)
{
	if (!n || n->type != YNODE_MAP) {
		expected(p, n, path, "a map of keys and values");
		return false;
	}
	return true;
}

/* Walk a map with a table of keys; fields are written at base + offset. */
static bool walk_map(struct parse *p, const struct ynode *n, const char *path, const struct field *fields,
		     size_t nfields, void *base, bool in_defaults)
{
	bool ok = true;

	if (!expect_map(p, n, path))
		return false;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *key = n->entries[i].key;
		const struct field *f = find_field(fields, nfields, key->value);
		char *sub = join_path(path, key->value);

		if (!f) {
			unknown_key(p, key, sub, fields, nfields, in_defaults);
			ok = false;
		} else if (in_defaults && (f->flags & F_SERVER_ONLY)) {
			error_at(p, key, sub, "\"%s\" cannot be set in defaults: it belongs to one server", f->key);
			ok = false;
		} else if (f->sub) {
			ok = walk_map(p, n->entries[i].value, sub, f->sub, f->nsub, (char *)base + f->offset, in_defaults) && ok;
		} else {
			ok = f->parse(p, n->entries[i].value, sub, (char *)base + f->offset) && ok;
		}
		free(sub);
	}
	return ok;
}

static bool check_items(struct parse *p, const struct ynode *n, const char *path)
{
	if (n->n > MANIFEST_MAX_ARGS) {
		error_at(p, n, path, "has %zu items, more than the limit of %d", n->n, MANIFEST_MAX_ARGS);
		return false;
	}
	return true;
}

/* A list of strings, or one string taken as a list of one. */
static bool parse_string_list(struct parse *p, const struct ynode *n, const char *path, const char *what,
			      char ***ret, size_t *ret_n)
{
	char **v;
	size_t count = 0;
	bool ok = true;

	if (n && n->type == YNODE_SCALAR && !ynode_is_null(n)) {
		const char *s = scalar(p, n, path, what);

		if (!s)
			return false;
		v = xcalloc(2, sizeof(*v));
		v[0] = xstrdup(s);
		*ret = v;
		*ret_n = 1;
		return true;
	}
	if (!n || n->type != YNODE_SEQ) {
		expected(p, n, path, what);
		return false;
	}
	if (!check_items(p, n, path))
		return false;
	v = xcalloc(n->n + 1, sizeof(*v));
	for (size_t i = 0; i < n->n; i++) {
		char *sub = index_path(path, i);
		const char *s = scalar(p, n->items[i], sub, "a string");

		free(sub);
		if (!s) {
			ok = false;
			continue;
		}
		v[count++] = xstrdup(s);
	}
	*ret = v;
	*ret_n = count;
	return ok;
}

static void kv_list_free(struct kv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Set key to value, replacing an earlier value (defaults are merged this way). */
static void kv_set(struct kv_list *l, const char *key, char *value, bool sensitive)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].key, key) == 0) {
			free(l->items[i].value);
			l->items[i].value = value;
			l->items[i].sensitive = sensitive;
			return;
		}
	}
	l->items = xreallocarray(l->items, l->n + 1, sizeof(*l->items));
	l->items[l->n++] = (struct kv){ .key = xstrdup(key), .value = value, .sensitive = sensitive };
}

/* ---- ${VAR} expansion -------------------------------------------------- */

/*
 * Expand ${VAR} from mcpd's environment; $$ is a literal $, any other $ is
 * kept as it is. *sensitive is set when a variable was used: the result
 * may hold a secret and must never be logged.
 */
static char *expand_vars(struct parse *p, const struct ynode *n, const char *path, const char *in, bool *sensitive)
{
	size_t cap = strlen(in) + 1, len = 0;
	char *out = xmalloc(cap);
	bool ok = true;

	*sensitive = false;
	for (const char *s = in; *s;) {
		const char *add = s;
		size_t addlen = 1;

		if (s[0] == '$' && s[1] == '$') {
			s += 2;
		} else if (s[0] == '$' && s[1] == '{') {
			const char *end = strchr(s + 2, '}');
			char name[256];
			const char *val;

			if (!end) {
				error_at(p, n, path, "unterminated \"${\": write ${NAME}, or $$ for a literal $");
				ok = false;
				break;
			}
			if ((size_t)(end - s - 2) >= sizeof(name)) {
				error_at(p, n, path, "variable name in ${...} is too long");
				ok = false;
				break;
			}
			memcpy(name, s + 2, (size_t)(end - s - 2));
			name[end - s - 2] = '\0';
			s = end + 1;
			if (!env_name_valid(name)) {
				error_at(p, n, path, "\"${%s}\" is not a valid variable name", name);
				ok = false;
				continue;
			}
			val = getenv(name);
			*sensitive = true;
			if (!val) {
				problem(p, (p->flags & MANIFEST_LENIENT_ENV) != 0, n->line, n->col, path,
					"environment variable %s is not set (mcpd expands ${%s} from its own environment)",
					name, name);
				if (!(p->flags & MANIFEST_LENIENT_ENV))
					ok = false;
				continue;
			}
			add = val;
			addlen = strlen(val);
		} else {
			s++;
		}
		if (len + addlen + 1 > cap) {
			cap = (len + addlen + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, add, addlen);
		len += addlen;
	}
	out[len] = '\0';
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- server keys ------------------------------------------------------- */

static const char shell_chars[] = "|&;<>()$`\\\"'*?[]{}~";

static bool parse_command(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct server_conf *s = field;
	char **argv = NULL;
	size_t argc = 0;

	if (n && n->type == YNODE_SCALAR && !ynode_is_null(n)) {
		const char *str = scalar(p, n, path, "a command");
		const char *bad;

		if (!str)
			return false;
		bad = strpbrk(str, shell_chars);
		if (bad) {
			error_at(p, n, path,
				 "contains shell syntax ('%c'); mcpd runs commands without a shell: write the command "
				 "as a list, e.g. [sh, -c, \"...\"]", *bad);
			return false;
		}
		argv = xcalloc(strlen(str) / 2 + 2, sizeof(*argv));
		for (const char *c = str; *c;) {
			size_t w;

			c += strspn(c, " \t\n");
			w = strcspn(c, " \t\n");
			if (w)
				argv[argc++] = xstrndup(c, w);
			c += w;
		}
		if (argc > MANIFEST_MAX_ARGS) {
			strv_free(argv);
			error_at(p, n, path, "has more than %d words", MANIFEST_MAX_ARGS);
			return false;
		}
	} else if (!parse_string_list(p, n, path, "a command: a list of strings like [program, arg]", &argv, &argc)) {
		strv_free(argv);
		return false;
	}
	if (argc == 0 || argv[0][0] == '\0') {
		strv_free(argv);
		error_at(p, n, path, "is empty: give the program to run and its arguments");
		return false;
	}
	strv_free(s->command);
	s->command = argv;
	s->argc = argc;
	return true;
}

static bool url_valid(const char *u)
{
	const char *host;

	if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else
		return false;
	if (!*host || *host == '/' || *host == ':')
		return false;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

static bool parse_url(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct server_conf *s = field;
	const char *str = scalar(p, n, path, "a URL like \"http://127.0.0.1:8931/mcp\"");
	bool sensitive;
	char *url;

	if (!str)
		return false;
	if (strlen(str) > URL_MAX) {
		error_at(p, n, path, "URL is longer than %d bytes", URL_MAX);
		return false;
	}
	url = expand_vars(p, n, path, str, &sensitive);
	if (!url)
		return false;
	/* Check the expanded URL, but never print it: it may hold a secret. */
	if (!url_valid(url)) {
		free(url);
		if (sensitive)
			error_at(p, n, path, "after ${...} expansion this is not an http:// or https:// URL");
		else
			expected(p, n, path, "an http:// or https:// URL");
		return false;
	}
	free(s->url);
	s->url = url;
	s->url_sensitive = sensitive;
	return true;
}

static bool header_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static bool parse_headers(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct kv_list *l = field;
	bool ok = true;

	if (!expect_map(p, n, path) || !check_items(p, n, path))
		return false;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->entries[i].key;
		char *sub = join_path(path, k->value);
		const char *raw;
		char *val = NULL;
		bool sensitive = false;

		if (!header_name_valid(k->value)) {
			error_at(p, k, sub, "\"%.64s\" is not a valid HTTP header name", k->value);
			ok = false;
		} else if ((raw = scalar(p, n->entries[i].value, sub, "a header value")) &&
			   (val = expand_vars(p, n->entries[i].value, sub, raw, &sensitive))) {
			if (strpbrk(val, "\r\n")) {
				error_at(p, n->entries[i].value, sub, "header value contains a line break%s",
					 sensitive ? " after ${...} expansion" : "");
				free(val);
				ok = false;
			} else {
				kv_set(l, k->value, val, sensitive);
			}
		} else {
			ok = false;
		}
		free(sub);
	}
	return ok;
}

static bool parse_env(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct kv_list *l = field;
	bool ok = true;

	if (!expect_map(p, n, path) || !check_items(p, n, path))
		return false;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->entries[i].key;
		char *sub = join_path(path, k->value);
		const char *v;

		if (!env_name_valid(k->value)) {
			error_at(p, k, sub, "\"%.64s\" is not a valid environment variable name", k->value);
			ok = false;
		} else if ((v = scalar(p, n->entries[i].value, sub, "a string value"))) {
			kv_set(l, k->value, xstrdup(v), false);
		} else {
			ok = false;
		}
		free(sub);
	}
	return ok;
}

static bool parse_secrets(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct kv_list *l = field;
	bool ok = true;

	if (!expect_map(p, n, path) || !check_items(p, n, path))
		return false;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->entries[i].key;
		char *sub = join_path(path, k->value);
		char *file = NULL;

		if (!env_name_valid(k->value)) {
			error_at(p, k, sub, "\"%.64s\" is not a valid environment variable name", k->value);
			ok = false;
		} else if (parse_path(p, n->entries[i].value, sub, &file)) {
			kv_set(l, k->value, file, true);
		} else {
			ok = false;
		}
		free(sub);
	}
	return ok;
}

/* Keep the value as written, for status; a longer one is cut (the value is what counts). */
static void limit_set(struct limit_conf *l, const char *s, uint64_t v)
{
	l->set = true;
	l->value = v;
	snprintf(l->text, sizeof(l->text), "%s", s);
}

static bool parse_limit_value(struct parse *p, const struct ynode *n, const char *path, void *field,
			      int kind /* 0 count, 1 size, 2 seconds */)
{
	struct limit_conf *l = field;
	const char *s = scalar(p, n, path, "a limit");
	uint64_t v;

	if (!s)
		return false;
	if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0) {
		limit_set(l, s, UINT64_MAX);
		return true;
	}
	if (kind == 0) {
		if (!parse_uint_range(p, n, path, 0, (uint64_t)INT64_MAX, &v))
			return false;
	} else if (kind == 1) {
		if (size_parse(s, &v) < 0) {
			expected(p, n, path, "a size like \"512M\" or \"unlimited\"");
			return false;
		}
	} else {
		if (duration_parse(s, &v) < 0) {
			expected(p, n, path, "a duration like \"10m\" or \"unlimited\"");
			return false;
		}
		if (v % 1000) {
			error_at(p, n, path, "CPU time is counted in whole seconds");
			return false;
		}
		v /= 1000;
	}
	limit_set(l, s, v);
	return true;
}

static bool parse_limit_count(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	return parse_limit_value(p, n, path, field, 0);
}

static bool parse_limit_size(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	return parse_limit_value(p, n, path, field, 1);
}

static bool parse_limit_cpu_time(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	return parse_limit_value(p, n, path, field, 2);
}

int limits_cpu_parse(const char *s, uint64_t *ret_quota)
{
	uint64_t ms;
	double v;
	char *end;
	size_t len = strlen(s);

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "max") == 0) {
		*ret_quota = UINT64_MAX;
		return 0;
	}
	if (len > 0 && s[len - 1] != '%' && !isdigit((unsigned char)s[len - 1]) && duration_parse(s, &ms) == 0)
		return -EDOM;
	/* Decimal digits with one optional point and an optional final '%': no sign, exponent or hex. */
	if (strspn(s, "0123456789.") != len - (len > 0 && s[len - 1] == '%') || strchr(s, '.') != strrchr(s, '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -EINVAL;
	if (*end == '%' && end[1] == '\0')
		v /= 100;
	else if (*end)
		return -EINVAL;
	v = round(v * LIMITS_CPU_PERIOD);
	if (v < LIMITS_CPU_MIN || v > (double)LIMITS_CPU_MAX)
		return -ERANGE;
	*ret_quota = (uint64_t)v;
	return 0;
}

static bool parse_limit_cpu(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct limit_conf *l = field;
	const char *s = scalar(p, n, path, "a share of cores like 0.5, 2 or \"150%\"");
	uint64_t quota;
	long cpus;
	int r;

	if (!s)
		return false;
	r = limits_cpu_parse(s, &quota);
	if (r == -EDOM) {
		error_at(p, n, path, "\"%.40s\" is a duration: limits.cpu is a share of cores (0.5, 2, \"150%%\"); "
			 "for a limit of CPU time use limits.cpu_time", s);
		return false;
	}
	if (r == -ERANGE) {
		error_at(p, n, path, "%.40s is out of range (0.01 to 1024 cores)", s);
		return false;
	}
	if (r < 0) {
		expected(p, n, path, "a share of cores like 0.5, 2 or \"150%\"");
		return false;
	}
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (quota != UINT64_MAX && strspn(s, "0123456789") == strlen(s) && cpus > 0 &&
	    quota > (uint64_t)cpus * LIMITS_CPU_PERIOD)
		problem(p, true, n->line, n->col, path,
			"%s cores is more than this host's %ld: limits.cpu is a share of cores, no longer seconds "
			"of CPU time (that is limits.cpu_time)", s, cpus);
	limit_set(l, s, quota);
	return true;
}

static bool parse_limit_pids(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a number of processes");
	uint64_t v;

	if (!s)
		return false;
	if (strcmp(s, "unlimited") == 0 || strcmp(s, "max") == 0) {
		limit_set(field, s, UINT64_MAX);
		return true;
	}
	if (!parse_uint_range(p, n, path, 1, LIMITS_PIDS_MAX, &v))
		return false;
	limit_set(field, s, v);
	return true;
}

#define LIMIT(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct limits_conf, member) }
static const struct field limits_fields[] = {
	LIMIT("nofile", parse_limit_count, nofile),
	LIMIT("nproc", parse_limit_count, nproc),
	LIMIT("memory", parse_limit_size, memory),
	LIMIT("memory_high", parse_limit_size, memory_high),
	LIMIT("core", parse_limit_size, core),
	LIMIT("stack", parse_limit_size, stack),
	LIMIT("cpu", parse_limit_cpu, cpu),
	LIMIT("cpu_time", parse_limit_cpu_time, cpu_time),
	LIMIT("pids", parse_limit_pids, pids),
};

static bool parse_umask(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "an octal umask like \"027\"");
	const char *digits;
	char *end;
	long v;

	if (!s)
		return false;
	digits = strncmp(s, "0o", 2) == 0 ? s + 2 : s;
	errno = 0;
	v = strtol(digits, &end, 8);
	if (!*digits || *end || errno || !isdigit((unsigned char)digits[0])) {
		expected(p, n, path, "an octal umask like \"027\"");
		return false;
	}
	if (v < 0 || v > 0777) {
		error_at(p, n, path, "umask %s is out of range (0 to 0777)", s);
		return false;
	}
	*(int *)field = (int)v;
	return true;
}

static bool parse_log_buffer(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a size like \"256K\"");
	uint64_t v;

	if (!s)
		return false;
	if (size_parse(s, &v) < 0) {
		expected(p, n, path, "a size like \"256K\"");
		return false;
	}
	if (v < 4 * 1024 || v > 64 * 1024 * 1024) {
		error_at(p, n, path, "log buffer of %s is out of range (4K to 64M)", s);
		return false;
	}
	*(uint64_t *)field = v;
	return true;
}

static bool parse_depends_on(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct server_conf *s = field;
	char **names = NULL;
	size_t count = 0;
	bool ok;

	p->dep_nodes[p->cur] = n;
	ok = parse_string_list(p, n, path, "a list of server names", &names, &count);
	for (size_t i = 0; ok && i < count; i++) {
		const struct ynode *at = n->type == YNODE_SEQ ? n->items[i] : n;

		if (!server_name_valid(names[i])) {
			error_at(p, at, path, "\"%.64s\" is not a valid server name", names[i]);
			ok = false;
		}
		for (size_t j = 0; ok && j < i; j++) {
			if (strcmp(names[i], names[j]) == 0) {
				error_at(p, at, path, "\"%s\" is listed twice", names[i]);
				ok = false;
			}
		}
	}
	if (!ok) {
		strv_free(names);
		return false;
	}
	strv_free(s->depends_on);
	s->depends_on = names;
	s->ndepends_on = count;
	return true;
}

static bool parse_factor(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	return parse_double_range(p, n, path, 1, 10, field);
}

static bool parse_jitter(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	return parse_double_range(p, n, path, 0, 1, field);
}

static bool parse_failures(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t v;

	if (!parse_uint_range(p, n, path, 0, 1000, &v))
		return false;
	*(unsigned *)field = (unsigned)v;
	return true;
}

static bool parse_unhealthy_after(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t v;

	if (!parse_uint_range(p, n, path, 1, 1000, &v))
		return false;
	*(unsigned *)field = (unsigned)v;
	return true;
}

static bool parse_replicas(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t v;

	if (!parse_uint_range(p, n, path, 1, MANIFEST_MAX_REPLICAS, &v))
		return false;
	*(unsigned *)field = (unsigned)v;
	return true;
}

static bool parse_signal(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a signal name like \"TERM\"");
	int sig;

	if (!s)
		return false;
	sig = signal_from_name(s);
	if (sig <= 0) {
		expected(p, n, path, "a signal name like \"TERM\" or \"INT\"");
		return false;
	}
	*(int *)field = sig;
	return true;
}

#define BACKOFF(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct backoff_conf, member) }
static const struct field backoff_fields[] = {
	BACKOFF("initial", parse_duration, initial_ms),
	BACKOFF("max", parse_duration, max_ms),
	BACKOFF("factor", parse_factor, factor),
	BACKOFF("jitter", parse_jitter, jitter),
};

#define CIRCUIT(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct circuit_conf, member) }
static const struct field circuit_fields[] = {
	CIRCUIT("failures", parse_failures, failures),
	CIRCUIT("window", parse_duration, window_ms),
	CIRCUIT("cooldown", parse_duration, cooldown_ms),
};

bool tool_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MANIFEST_TOOL_NAME_MAX)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
			return false;
	return true;
}

/*
 * YAML to JSON for health.call.arguments: maps are objects, sequences arrays;
 * a plain (unquoted) scalar may be null, true/false or a number, anything
 * else (and every quoted scalar) is a string. NULL after an error.
 */
static cJSON *yaml_to_json(struct parse *p, const struct ynode *n, const char *path)
{
	cJSON *o;

	if (n->type == YNODE_MAP) {
		o = cJSON_CreateObject();
		for (size_t i = 0; i < n->n; i++) {
			char *sub = join_path(path, n->entries[i].key->value);
			cJSON *v = yaml_to_json(p, n->entries[i].value, sub);

			free(sub);
			if (!v) {
				cJSON_Delete(o);
				return NULL;
			}
			cJSON_AddItemToObject(o, n->entries[i].key->value, v);
		}
		return o;
	}
	if (n->type == YNODE_SEQ) {
		o = cJSON_CreateArray();
		for (size_t i = 0; i < n->n; i++) {
			char *sub = index_path(path, i);
			cJSON *v = yaml_to_json(p, n->items[i], sub);

			free(sub);
			if (!v) {
				cJSON_Delete(o);
				return NULL;
			}
			cJSON_AddItemToArray(o, v);
		}
		return o;
	}
	if (strlen(n->value) != n->len) {
		error_at(p, n, path, "contains a NUL byte (\\0), which mcpd does not send in a tool's arguments");
		return NULL;
	}
	if (n->plain) {
		static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
		char *end;
		double v;

		if (ynode_is_null(n))
			return cJSON_CreateNull();
		for (size_t i = 0; i < NELEM(yes); i++) {
			if (strcmp(n->value, yes[i]) == 0)
				return cJSON_CreateTrue();
			if (strcmp(n->value, no[i]) == 0)
				return cJSON_CreateFalse();
		}
		errno = 0;
		v = strtod(n->value, &end);
		if (n->len > 0 && *end == '\0' && !errno && isfinite(v) &&
		    (isdigit((unsigned char)n->value[0]) || n->value[0] == '-' || n->value[0] == '.'))
			return cJSON_CreateNumber(v);
	}
	return cJSON_CreateString(n->value);
}

static const struct field call_fields[] = {
	{ .key = "tool" },
	{ .key = "arguments" },
};

static bool hinted(const struct parse *p, const char *key);

/* health.call: { tool: NAME, arguments: {...} } */
static bool parse_call(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct health_conf *h = field;
	const struct ynode *tool, *args;
	const char *name;
	char *sub, *text = NULL;
	bool ok = true;

	if (!expect_map(p, n, path))
		return false;
	for (size_t i = 0; i < n->n; i++) {
		if (!find_field(call_fields, NELEM(call_fields), n->entries[i].key->value)) {
			sub = join_path(path, n->entries[i].key->value);
			unknown_key(p, n->entries[i].key, sub, call_fields, NELEM(call_fields), false);
			free(sub);
			ok = false;
		}
	}
	tool = ymap_get(n, "tool");
	sub = join_path(path, "tool");
	if (!tool) {
		if (!hinted(p, "tool"))
			error_at(p, n, sub, "missing \"tool\": the name of the (read-only) tool to call at each probe");
		ok = false;
	} else if ((name = scalar(p, tool, sub, "a tool name")) && !tool_name_valid(name)) {
		error_at(p, tool, sub, "\"%.64s%s\" is not a valid MCP tool name: 1 to %d letters, digits, '_', '-' "
			 "or '.'", name, strlen(name) > 64 ? "..." : "", MANIFEST_TOOL_NAME_MAX);
		ok = false;
	} else if (!name) {
		ok = false;
	}
	free(sub);
	args = ymap_get(n, "arguments");
	if (args && !ynode_is_null(args)) {
		sub = join_path(path, "arguments");
		if (args->type != YNODE_MAP) {
			expected(p, args, sub, "a map of the tool's arguments");
			ok = false;
		} else if (args->weight > MANIFEST_CALL_ARGS_MAX) {
			error_at(p, args, sub, "is larger than %d KiB as JSON", MANIFEST_CALL_ARGS_MAX / 1024);
			ok = false;
		} else {
			cJSON *json = yaml_to_json(p, args, sub);

			if (!json) {
				ok = false;
			} else {
				text = cJSON_PrintUnformatted(json);
				cJSON_Delete(json);
				if (strlen(text) > MANIFEST_CALL_ARGS_MAX) {
					error_at(p, args, sub, "is larger than %d KiB as JSON", MANIFEST_CALL_ARGS_MAX / 1024);
					ok = false;
				}
			}
		}
		free(sub);
	}
	if (!ok) {
		free(text);
		return false;
	}
	free(h->call_tool);
	free(h->call_arguments);
	h->call_tool = xstrdup(tool->value);
	h->call_arguments = text;
	return true;
}

/* health.exec: like command, an argv list run without a shell. */
static bool parse_exec(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct health_conf *h = field;
	struct server_conf tmp = { 0 };

	if (!parse_command(p, n, path, &tmp))
		return false;
	strv_free(h->exec);
	h->exec = tmp.command;
	h->exec_argc = tmp.argc;
	return true;
}

static bool parse_exec_timeout(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	if (!parse_duration(p, n, path, field))
		return false;
	if (*(uint64_t *)field == 0) {
		error_at(p, n, path, "must be longer than 0");
		return false;
	}
	return true;
}

/* ---- approval (issue 16) ------------------------------------------------ */

/* approval: [tool, ...] | all: calls of those tools wait for a human (mcpd/approvals.c). */
static bool parse_approval(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct server_conf *s = field;
	char **v = NULL;
	size_t c = 0;
	bool ok;

	if (n && n->type == YNODE_SCALAR && !ynode_is_null(n) && strcmp(n->value, "all") == 0) {
		strv_free(s->approval);
		s->approval = NULL;
		s->napproval = 0;
		s->approval_all = true;
		return true;
	}
	ok = parse_string_list(p, n, path, "a list of tool names like [send_email], or \"all\"", &v, &c);
	for (size_t i = 0; ok && i < c; i++) {
		if (!tool_name_valid(v[i])) {
			char *sub = index_path(path, i);

			error_at(p, n->type == YNODE_SEQ ? n->items[i] : n, sub, "\"%.64s%s\" is not a valid MCP tool "
				 "name: 1 to %d letters, digits, '_', '-' or '.'", v[i], strlen(v[i]) > 64 ? "..." : "",
				 MANIFEST_TOOL_NAME_MAX);
			free(sub);
			ok = false;
		}
	}
	if (!ok) {
		strv_free(v);
		return false;
	}
	strv_free(s->approval);
	s->approval = v;
	s->napproval = c;
	s->approval_all = false;
	return true;
}

/* approval_timeout: how long a held call waits for a decision, 1s to 24h. */
static bool parse_approval_timeout(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t *ms = field;

	if (!parse_duration(p, n, path, field))
		return false;
	if (*ms < MANIFEST_APPROVAL_TIMEOUT_MIN || *ms > MANIFEST_APPROVAL_TIMEOUT_MAX) {
		error_at(p, n, path, "must be between 1s and 24h");
		return false;
	}
	return true;
}

/* ---- sandbox (issue 15) ------------------------------------------------ */

/* A list of absolute paths (sandbox.writable, sandbox.readable); trailing slashes dropped. */
static bool parse_sandbox_paths(struct parse *p, const struct ynode *n, const char *path, char ***list, size_t *count)
{
	char **v = NULL;
	size_t c = 0;
	bool ok = parse_string_list(p, n, path, "a list of absolute paths like [/srv/data]", &v, &c);

	if (ok && c > MANIFEST_SANDBOX_MAX_PATHS) {
		error_at(p, n, path, "has %zu paths, more than the limit of %d", c, MANIFEST_SANDBOX_MAX_PATHS);
		ok = false;
	}
	for (size_t i = 0; ok && i < c; i++) {
		const struct ynode *at = n->type == YNODE_SEQ && i < n->n ? n->items[i] : n;
		size_t len = strlen(v[i]);

		if (v[i][0] != '/') {
			error_at(p, at, path, "\"%.64s\" is not an absolute path (the sandbox takes paths starting with /)", v[i]);
			ok = false;
		} else if (len >= PATH_MAX) {
			error_at(p, at, path, "path is longer than %d bytes", PATH_MAX - 1);
			ok = false;
		}
		while (ok && len > 1 && v[i][len - 1] == '/')
			v[i][--len] = '\0';
	}
	if (!ok) {
		strv_free(v);
		return false;
	}
	strv_free(*list);
	*list = v;
	*count = c;
	return true;
}

static bool parse_sandbox_writable(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct sandbox_conf *sb = field;

	return parse_sandbox_paths(p, n, path, &sb->writable, &sb->nwritable);
}

static bool parse_sandbox_readable(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct sandbox_conf *sb = field;

	return parse_sandbox_paths(p, n, path, &sb->readable, &sb->nreadable);
}

#define SANDBOX(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct sandbox_conf, member) }
static const struct field sandbox_fields[] = {
	{ .key = "writable", .parse = parse_sandbox_writable },
	{ .key = "readable", .parse = parse_sandbox_readable },
	SANDBOX("network", parse_bool, network),
	SANDBOX("private_tmp", parse_bool, private_tmp),
	SANDBOX("best_effort", parse_bool, best_effort),
};

/* sandbox: true | false | { writable, readable, network, private_tmp, best_effort }, merged onto the defaults'. */
static bool parse_sandbox(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct sandbox_conf *sb = field;

	if (n && n->type == YNODE_SCALAR && !ynode_is_null(n))
		return parse_bool(p, n, path, &sb->enabled);
	if (!n || n->type != YNODE_MAP) {
		expected(p, n, path, "true, false or a map like { writable: [/srv/data], network: false }");
		return false;
	}
	sb->enabled = true;
	return walk_map(p, n, path, sandbox_fields, NELEM(sandbox_fields), sb, false);
}

static void sandbox_conf_copy(struct sandbox_conf *dst, const struct sandbox_conf *src);
static bool sandbox_conf_eq(const struct sandbox_conf *a, const struct sandbox_conf *b);
static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb);

#define HEALTH(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct health_conf, member) }
static const struct field health_fields[] = {
	HEALTH("interval", parse_duration, interval_ms),
	HEALTH("timeout", parse_duration, timeout_ms),
	HEALTH("unhealthy_after", parse_unhealthy_after, unhealthy_after),
	HEALTH("start_timeout", parse_duration, start_timeout_ms),
	{ .key = "call", .parse = parse_call, .flags = F_SERVER_ONLY },
	{ .key = "exec", .parse = parse_exec, .flags = F_SERVER_ONLY },
	HEALTH("exec_timeout", parse_exec_timeout, exec_timeout_ms),
};

#define STOP(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct stop_conf, member) }
static const struct field stop_fields[] = {
	STOP("signal", parse_signal, signal),
	STOP("timeout", parse_duration, timeout_ms),
};

#define SRV(k, fn, member, fl) { .key = k, .parse = fn, .offset = offsetof(struct server_conf, member), .flags = fl }
#define SRV_MAP(k, member, table) \
	{ .key = k, .offset = offsetof(struct server_conf, member), .sub = table, .nsub = NELEM(table) }
#define SRV_SELF(k, fn, fl) { .key = k, .parse = fn, .flags = fl }
static const struct field server_fields[] = {
	SRV("transport", parse_transport, transport, F_SERVER_ONLY),
	SRV_SELF("command", parse_command, F_SERVER_ONLY),
	SRV_SELF("url", parse_url, F_SERVER_ONLY),
	SRV("headers", parse_headers, headers, F_SERVER_ONLY),
	SRV("protocol", parse_protocol, protocol, 0),
	SRV("cwd", parse_path, cwd, 0),
	SRV("env", parse_env, env, 0),
	SRV("env_file", parse_path, env_file, 0),
	SRV("secrets", parse_secrets, secrets, 0),
	SRV("user", parse_string, user, 0),
	SRV("group", parse_string, group, 0),
	SRV_MAP("limits", limits, limits_fields),
	SRV("umask", parse_umask, umask, 0),
	SRV("log_buffer", parse_log_buffer, log_buffer, 0),
	SRV_SELF("depends_on", parse_depends_on, F_SERVER_ONLY),
	SRV("autostart", parse_bool, autostart, 0),
	SRV("critical", parse_bool, critical, 0),
	SRV("replicas", parse_replicas, replicas, F_SERVER_ONLY),
	SRV("restart", parse_restart, restart, 0),
	SRV_MAP("backoff", backoff, backoff_fields),
	SRV("reset_after", parse_duration, reset_after_ms, 0),
	SRV_MAP("circuit", circuit, circuit_fields),
	SRV_MAP("health", health, health_fields),
	SRV_MAP("stop", stop, stop_fields),
	SRV("sandbox", parse_sandbox, sandbox, 0),
	SRV_SELF("approval", parse_approval, 0),
	SRV("approval_timeout", parse_approval_timeout, approval_timeout_ms, 0),
};

/* ---- mcpd section ------------------------------------------------------ */

static bool parse_control(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	char **f = field;

	if (!parse_path(p, n, path, field))
		return false;
	if (strlen(*f) > CONTROL_PATH_MAX) {
		error_at(p, n, path, "socket path is %zu bytes long, more than the %zu a Unix socket allows", strlen(*f),
			 CONTROL_PATH_MAX);
		free(*f);
		*f = NULL;
		return false;
	}
	return true;
}

static bool parse_http(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct mcpd_conf *c = field;
	const char *s = scalar(p, n, path, "HOST:PORT like \"127.0.0.1:9310\"");
	const char *colon, *host = s;
	size_t hostlen;
	char *end;
	unsigned long port;

	if (!s)
		return false;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			goto bad;
		host = s + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			goto bad;
		hostlen = (size_t)(colon - s);
	}
	if (hostlen == 0 || hostlen > 253)
		goto bad;
	for (size_t i = 0; i < hostlen; i++)
		if (!isalnum((unsigned char)host[i]) && !strchr(".-:", host[i]))
			goto bad;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end || errno || port == 0 || port > 65535) {
		error_at(p, n, path, "port must be a number from 1 to 65535");
		return false;
	}
	set_str(&c->http, s);
	free(c->http_host);
	c->http_host = xstrndup(host, hostlen);
	c->http_port = (unsigned)port;
	return true;
bad:
	expected(p, n, path, "HOST:PORT like \"127.0.0.1:9310\" or \"[::1]:9310\"");
	return false;
}

/* "50/min": a count and its period; false after an error. */
static bool parse_rate(struct parse *p, const struct ynode *n, const char *path, unsigned *ret_count,
		       uint64_t *ret_period_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "s", 1000 }, { "sec", 1000 }, { "second", 1000 },
		{ "m", 60000 }, { "min", 60000 }, { "minute", 60000 },
		{ "h", 3600000 }, { "hour", 3600000 },
	};
	const char *s = scalar(p, n, path, "a rate like \"50/min\"");
	unsigned long count;
	const char *unit;
	char *end;

	if (!s)
		return false;
	errno = 0;
	count = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end != '/' || errno || count == 0 || count > 1000000) {
		expected(p, n, path, "a rate like \"50/min\" (1 to 1000000 requests per s, min or hour)");
		return false;
	}
	unit = end + 1;
	for (size_t i = 0; i < NELEM(units); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			*ret_count = (unsigned)count;
			*ret_period_ms = units[i].ms;
			return true;
		}
	}
	if (duration_parse(unit, ret_period_ms) == 0 && *ret_period_ms > 0) {
		*ret_count = (unsigned)count;
		return true;
	}
	expected(p, n, path, "a rate like \"50/min\" (per s, min, hour or a duration like 30s)");
	return false;
}

static bool parse_rate_limit(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct gateway_conf *g = field;

	return parse_rate(p, n, path, &g->rate_limit, &g->rate_period_ms);
}

static bool parse_origins(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct gateway_conf *g = field;
	char **v = NULL;
	size_t count = 0;
	bool ok = parse_string_list(p, n, path, "a list of origins like \"https://app.example.com\"", &v, &count);

	for (size_t i = 0; ok && i < count; i++) {
		const char *after = strstr(v[i], "://");

		if (!url_valid(v[i]) || strchr(after + 3, '/')) {
			error_at(p, n->type == YNODE_SEQ ? n->items[i] : n, path,
				 "\"%.64s\" is not an origin like \"https://app.example.com\" (scheme://host[:port])", v[i]);
			ok = false;
		}
	}
	if (!ok) {
		strv_free(v);
		return false;
	}
	strv_free(g->allowed_origins);
	g->allowed_origins = v;
	g->nallowed_origins = count;
	return true;
}

static bool parse_sessions_per_token(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t v;

	if (!parse_uint_range(p, n, path, 1, 1024, &v))
		return false;
	*(unsigned *)field = (unsigned)v;
	return true;
}

/* A duration that is not zero: a zero deadline or idle timeout would refuse everything. */
static bool parse_positive_duration(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	if (!parse_duration(p, n, path, field))
		return false;
	if (*(uint64_t *)field < 1000) {
		error_at(p, n, path, "must be at least 1s");
		return false;
	}
	return true;
}

/* The names of the JWT_* bits of mcpd/jwt.h, in their order: never none, never HS* (a key set is public). */
static const char *const jwt_algorithms[] = { "RS256", "RS384", "RS512", "PS256", "ES256", "ES384" };

static bool parse_jwt_algorithms(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	unsigned *bits = field, v = 0;
	char **names = NULL;
	size_t count = 0;
	bool ok = parse_string_list(p, n, path, "a list of algorithms like [RS256, ES256]", &names, &count);

	for (size_t i = 0; ok && i < count; i++) {
		size_t j;

		for (j = 0; j < NELEM(jwt_algorithms) && strcmp(names[i], jwt_algorithms[j]) != 0; j++)
			;
		if (j == NELEM(jwt_algorithms)) {
			error_at(p, n->type == YNODE_SEQ ? n->items[i] : n, path, "algorithm \"%.16s\" is not one of "
				 "RS256, RS384, RS512, PS256, ES256, ES384 (never none or HS*: the key set is public)",
				 names[i]);
			ok = false;
		}
		v |= 1u << j;
	}
	strv_free(names);
	if (ok && v == 0) {
		error_at(p, n, path, "needs at least one algorithm");
		ok = false;
	}
	if (ok)
		*bits = v;
	return ok;
}

static bool parse_jwt_string(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a string");

	if (!s)
		return false;
	if (!*s || strlen(s) > 512) {
		error_at(p, n, path, "must be a string of 1 to 512 bytes");
		return false;
	}
	set_str(field, s);
	return true;
}

/* An http:// URL's host is this machine (127.0.0.0/8, ::1, localhost), past any user@. */
static bool url_loopback(const char *u)
{
	const char *host = u + strlen("http://"), *at;
	size_t len = strcspn(host, "/?#");
	char name[64];
	unsigned char addr[16];

	while ((at = memchr(host, '@', len))) {
		len -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	if (*host == '[') {
		const char *end = memchr(host, ']', len);

		len = end ? (size_t)(end - host - 1) : 0;
		host++;
	} else {
		const char *colon = memchr(host, ':', len);

		if (colon)
			len = (size_t)(colon - host);
	}
	if (len == 0 || len >= sizeof(name))
		return false;
	memcpy(name, host, len);
	name[len] = '\0';
	if (strcasecmp(name, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, name, addr) == 1)
		return addr[0] == 127;
	return inet_pton(AF_INET6, name, addr) == 1 && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
}

static bool parse_jwks_url(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	const char *s = scalar(p, n, path, "a URL like \"https://issuer.example.com/.well-known/jwks.json\"");

	if (!s)
		return false;
	if (strlen(s) > URL_MAX || !url_valid(s)) {
		expected(p, n, path, "an http:// or https:// URL of the key set");
		return false;
	}
	if (strncmp(s, "http://", 7) == 0 && !url_loopback(s)) {
		error_at(p, n, path, "a key set over plain http:// is taken only from this machine (127.0.0.1, ::1, "
			 "localhost): anyone on the way could replace the keys and sign any token; use https://");
		return false;
	}
	set_str(field, s);
	return true;
}

#define JWT(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct gateway_jwt_conf, member) }
static const struct field jwt_fields[] = {
	JWT("issuer", parse_jwt_string, issuer),
	JWT("audience", parse_jwt_string, audience),
	JWT("jwks_file", parse_path, jwks_file),
	JWT("jwks_url", parse_jwks_url, jwks_url),
	JWT("agent_claim", parse_jwt_string, agent_claim),
	JWT("algorithms", parse_jwt_algorithms, algorithms),
	JWT("leeway", parse_duration, leeway_ms),
};

/* gateway.jwt: its keys, then what they need together. */
static bool parse_jwt(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct gateway_jwt_conf *j = field;

	j->enabled = true;
	if (!j->agent_claim)
		j->agent_claim = xstrdup("sub");
	j->algorithms = 1u << 0 | 1u << 4;	/* RS256, ES256 */
	j->leeway_ms = 60000;
	if (!walk_map(p, n, path, jwt_fields, NELEM(jwt_fields), j, false))
		return false;
	if (!j->issuer || !j->audience) {
		error_at(p, n, path, "needs issuer and audience (the iss and aud a token must carry)");
		return false;
	}
	if ((j->jwks_file == NULL) == (j->jwks_url == NULL)) {
		error_at(p, n, path, "needs exactly one of jwks_file and jwks_url (the issuer's public keys)");
		return false;
	}
	if (j->leeway_ms > 600000) {
		error_at(p, n, path, "leeway is longer than 10m");
		return false;
	}
	return true;
}

static void jwt_conf_release(struct gateway_jwt_conf *j)
{
	free(j->issuer);
	free(j->audience);
	free(j->jwks_file);
	free(j->jwks_url);
	free(j->agent_claim);
}

#define GATEWAY(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct gateway_conf, member) }
static const struct field gateway_fields[] = {
	GATEWAY("tokens_file", parse_path, tokens_file),
	GATEWAY("jwt", parse_jwt, jwt),
	{ .key = "rate_limit", .parse = parse_rate_limit },
	{ .key = "allowed_origins", .parse = parse_origins },
	GATEWAY("max_sessions_per_token", parse_sessions_per_token, max_sessions_per_token),
	GATEWAY("session_idle_timeout", parse_positive_duration, session_idle_ms),
	GATEWAY("request_timeout", parse_positive_duration, request_timeout_ms),
};

/* How many applied manifests the history keeps. */
static bool parse_history(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t v;

	if (!parse_uint_range(p, n, path, 1, 1000, &v))
		return false;
	*(unsigned *)field = (unsigned)v;
	return true;
}

#define MCPD(k, fn, member) { .key = k, .parse = fn, .offset = offsetof(struct mcpd_conf, member) }
static const struct field mcpd_fields[] = {
	MCPD("control", parse_control, control),
	{ .key = "http", .parse = parse_http },
	{ .key = "gateway", .offset = offsetof(struct mcpd_conf, gateway), .sub = gateway_fields, .nsub = NELEM(gateway_fields) },
	MCPD("log_format", parse_log_format, log_format),
	MCPD("log_file", parse_path, log_file),
	MCPD("shutdown_timeout", parse_duration, shutdown_timeout_ms),
	MCPD("state_dir", parse_path, state_dir),
	MCPD("history", parse_history, history),
};

/* ---- servers ----------------------------------------------------------- */

void server_conf_init_defaults(struct server_conf *s)
{
	*s = (struct server_conf){
		.transport = TRANSPORT_STDIO,
		.umask = -1,
		.log_buffer = 256 * 1024,
		.autostart = true,
		.replicas = 1,
		.restart = RESTART_ALWAYS,
		.backoff = { .initial_ms = 1000, .max_ms = 60000, .factor = 2, .jitter = 0.1 },
		.reset_after_ms = 60000,
		.circuit = { .failures = 5, .window_ms = 5 * 60000, .cooldown_ms = 10 * 60000 },
		.health = { .interval_ms = 30000, .timeout_ms = 5000, .unhealthy_after = 3, .start_timeout_ms = 30000 },
		.stop = { .signal = SIGTERM, .timeout_ms = 10000 },
		.sandbox = { .network = true },
		.approval_timeout_ms = 10 * 60000,
	};
}

void server_conf_release(struct server_conf *s)
{
	free(s->name);
	strv_free(s->command);
	free(s->url);
	kv_list_free(&s->headers);
	free(s->cwd);
	kv_list_free(&s->env);
	free(s->env_file);
	kv_list_free(&s->secrets);
	free(s->user);
	free(s->group);
	strv_free(s->depends_on);
	free(s->health.call_tool);
	free(s->health.call_arguments);
	strv_free(s->health.exec);
	strv_free(s->sandbox.writable);
	strv_free(s->sandbox.readable);
	strv_free(s->approval);
}

static void kv_list_copy(struct kv_list *dst, const struct kv_list *src)
{
	dst->n = src->n;
	dst->items = src->n ? xcalloc(src->n, sizeof(*dst->items)) : NULL;
	for (size_t i = 0; i < src->n; i++) {
		dst->items[i].key = xstrdup(src->items[i].key);
		dst->items[i].value = xstrdup(src->items[i].value);
		dst->items[i].sensitive = src->items[i].sensitive;
	}
}

static char *str_dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void server_conf_copy(struct server_conf *dst, const struct server_conf *src)
{
	*dst = *src;
	dst->name = str_dup_or_null(src->name);
	dst->command = strv_dup(src->command, src->argc);
	dst->url = str_dup_or_null(src->url);
	kv_list_copy(&dst->headers, &src->headers);
	dst->cwd = str_dup_or_null(src->cwd);
	kv_list_copy(&dst->env, &src->env);
	dst->env_file = str_dup_or_null(src->env_file);
	kv_list_copy(&dst->secrets, &src->secrets);
	dst->user = str_dup_or_null(src->user);
	dst->group = str_dup_or_null(src->group);
	dst->depends_on = strv_dup(src->depends_on, src->ndepends_on);
	dst->health.call_tool = str_dup_or_null(src->health.call_tool);
	dst->health.call_arguments = str_dup_or_null(src->health.call_arguments);
	dst->health.exec = strv_dup(src->health.exec, src->health.exec_argc);
	sandbox_conf_copy(&dst->sandbox, &src->sandbox);
	dst->approval = strv_dup(src->approval, src->napproval);
}

/*
 * The node that set section.key for a server (its own, else the defaults'),
 * for pointing at the right line in a cross-field error.
 */
static const struct ynode *locate(const struct parse *p, const struct ynode *srv, const char *section,
				  const char *key, char **ret_path, const char *srv_path)
{
	const struct ynode *n = ymap_get(ymap_get(srv, section), key);

	if (n) {
		xasprintf(ret_path, "%s.%s.%s", srv_path, section, key);
		return n;
	}
	n = ymap_get(ymap_get(p->defaults, section), key);
	if (n) {
		xasprintf(ret_path, "defaults.%s.%s", section, key);
		return n;
	}
	xasprintf(ret_path, "%s.%s.%s", srv_path, section, key);
	return srv;
}

/* A typo of key was reported with a hint: saying it is missing too would be noise. */
static bool hinted(const struct parse *p, const char *key)
{
	return p->hinted && strcmp(p->hinted, key) == 0;
}

static const char *const http_only[] = { "url", "headers" };

static void check_server(struct parse *p, struct server_conf *s, const struct ynode *key, const struct ynode *srv,
			 const char *path)
{
	const struct ynode *n;
	char *where, a[32], b[32];

	if (s->transport == TRANSPORT_STDIO) {
		if (!s->command && !ymap_get(srv, "command") && !hinted(p, "command"))
			error_at(p, key, path, "missing \"command\": a stdio server needs the program to run");
		for (size_t i = 0; i < NELEM(http_only); i++) {
			if ((n = ymap_get(srv, http_only[i]))) {
				where = join_path(path, http_only[i]);
				error_at(p, n, where, "\"%s\" is only used with transport: http", http_only[i]);
				free(where);
			}
		}
	} else if (!s->url && !ymap_get(srv, "url") && !hinted(p, "url")) {
		error_at(p, key, path, "missing \"url\": an http server needs the URL of its MCP endpoint");
	}
	if (s->transport != TRANSPORT_STDIO && s->replicas > 1) {
		n = ymap_get(srv, "replicas");
		where = join_path(path, "replicas");
		error_at(p, n ? n : key, where, "replicas needs a stdio server: mcpd does not start an http server's "
			 "processes (run more of them behind one URL instead)");
		free(where);
	}
	if (s->transport != TRANSPORT_STDIO && (n = ymap_get(srv, "approval"))) {
		/* Its clients talk to it directly: no call of theirs passes mcpd to be held. */
		where = join_path(path, "approval");
		error_at(p, n, where, "\"approval\" is only used with transport: stdio (mcpd relays no call to an "
			 "http server)");
		free(where);
	}

	if (s->backoff.max_ms < s->backoff.initial_ms) {
		n = locate(p, srv, "backoff", "max", &where, path);
		duration_format(s->backoff.max_ms, a, sizeof(a));
		duration_format(s->backoff.initial_ms, b, sizeof(b));
		error_at(p, n, where, "backoff.max (%s) is shorter than backoff.initial (%s)", a, b);
		free(where);
	}
	if (s->health.timeout_ms >= s->health.interval_ms) {
		n = locate(p, srv, "health", "timeout", &where, path);
		duration_format(s->health.timeout_ms, a, sizeof(a));
		duration_format(s->health.interval_ms, b, sizeof(b));
		error_at(p, n, where, "health.timeout (%s) must be shorter than health.interval (%s)", a, b);
		free(where);
	}
	if (s->health.timeout_ms == 0 || s->health.interval_ms == 0 || s->health.start_timeout_ms == 0) {
		n = ymap_get(srv, "health") ? ymap_get(srv, "health") : key;
		error_at(p, n, path, "health durations must be longer than 0");
	}
	if (s->limits.memory_high.set && s->limits.memory.set &&
	    s->limits.memory_high.value > s->limits.memory.value) {
		n = locate(p, srv, "limits", "memory_high", &where, path);
		error_at(p, n, where, "limits.memory_high (%s) is above limits.memory (%s): the process would be "
			 "killed before it is ever throttled", s->limits.memory_high.text, s->limits.memory.text);
		free(where);
	}
	/* A limit of 0 that no process can start under (memory, nofile, stack, cpu_time). */
	{
		static const struct { const char *key; size_t offset; const char *why; } zero[] = {
			{ "memory", offsetof(struct limits_conf, memory), "no process can start without memory" },
			{ "memory_high", offsetof(struct limits_conf, memory_high), "the process would be throttled from its start" },
			{ "nofile", offsetof(struct limits_conf, nofile), "no process can open its libraries without file descriptors" },
			{ "stack", offsetof(struct limits_conf, stack), "no process can start without a stack" },
			{ "cpu_time", offsetof(struct limits_conf, cpu_time), "the process would be killed at once" },
		};

		for (size_t i = 0; i < NELEM(zero); i++) {
			const struct limit_conf *l = (const void *)((const char *)&s->limits + zero[i].offset);

			if (!l->set || l->value != 0)
				continue;
			n = locate(p, srv, "limits", zero[i].key, &where, path);
			error_at(p, n, where, "0 would end every start of the server (%s); leave limits.%s out for "
				 "no limit", zero[i].why, zero[i].key);
			free(where);
		}
	}
	if (s->stop.timeout_ms == 0) {
		n = locate(p, srv, "stop", "timeout", &where, path);
		error_at(p, n, where, "stop.timeout must be longer than 0");
		free(where);
	}
}

static void parse_server(struct parse *p, const struct ynode *key, const struct ynode *value, struct server_conf *s)
{
	char *path = join_path("servers", key->value);

	server_conf_init_defaults(s);
	p->hinted = NULL;
	s->name = xstrdup(key->value);
	s->line = key->line;
	if (!server_name_valid(key->value)) {
		error_at(p, key, path,
			 "\"%.64s\" is not a valid server name: use lowercase letters, digits, '-' and '_', "
			 "starting with a letter or digit, at most 63 characters", key->value);
	} else if (strstr(key->value, "__")) {
		/* The aggregate endpoint names a server's tools SERVER__TOOL, split at the first "__". */
		error_at(p, key, path,
			 "\"%.64s\" is not a valid server name: \"__\" separates the server from the tool in the "
			 "aggregate endpoint's names (SERVER__TOOL); use a single '_' or '-'", key->value);
	}
	if (p->defaults) {
		bool was_quiet = p->quiet;

		p->quiet = true;
		walk_map(p, p->defaults, "defaults", server_fields, NELEM(server_fields), s, true);
		p->quiet = was_quiet;
	}
	if (ynode_is_null(value)) {
		error_at(p, key, path, "server has no settings: give at least \"command\" (or \"url\" for http)");
	} else if (walk_map(p, value, path, server_fields, NELEM(server_fields), s, false) || true) {
		check_server(p, s, key, value, path);
	}
	free(path);
}

static int find_server(const struct manifest *m, const char *name)
{
	for (size_t i = 0; i < m->nservers; i++)
		if (strcmp(m->servers[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void check_dependency_targets(struct parse *p)
{
	const char **names = manifest_server_names(p->m);

	for (size_t i = 0; i < p->m->nservers; i++) {
		const struct server_conf *s = &p->m->servers[i];
		const struct ynode *n = p->dep_nodes[i];

		for (size_t j = 0; j < s->ndepends_on; j++) {
			const struct ynode *at = n && n->type == YNODE_SEQ && j < n->n ? n->items[j] : n;
			char *path;
			const char *hint;

			if (find_server(p->m, s->depends_on[j]) >= 0)
				continue;
			xasprintf(&path, "servers.%s.depends_on", s->name);
			hint = str_suggest(s->depends_on[j], names, p->m->nservers);
			if (hint)
				error_at(p, at, path, "no server named \"%s\" (did you mean \"%s\"?)", s->depends_on[j], hint);
			else
				error_at(p, at, path, "no server named \"%s\"", s->depends_on[j]);
			free(path);
		}
	}
	free(names);
}

enum { WHITE, GRAY, BLACK };

struct dfs {
	struct parse *p;
	int *color;
	int *stack;
	size_t depth;
};

/* Depth-first search; a dependency on a GRAY server closes a cycle, named in full. */
static void dfs_visit(struct dfs *d, int u)
{
	const struct server_conf *s = &d->p->m->servers[u];

	d->color[u] = GRAY;
	d->stack[d->depth++] = u;
	for (size_t j = 0; j < s->ndepends_on; j++) {
		int v = find_server(d->p->m, s->depends_on[j]);

		if (v < 0)
			continue;
		if (d->color[v] == WHITE) {
			dfs_visit(d, v);
		} else if (d->color[v] == GRAY) {
			size_t start = d->depth;
			size_t len = 0, cap = 64;
			char *cycle = xmalloc(cap), *path;
			const struct ynode *n = d->p->dep_nodes[u];

			while (start > 0 && d->stack[start - 1] != v)
				start--;
			start = start > 0 ? start - 1 : 0;
			cycle[0] = '\0';
			for (size_t k = start; k <= d->depth; k++) {
				const char *name = d->p->m->servers[k < d->depth ? d->stack[k] : v].name;
				size_t add = strlen(name) + 5;

				if (len + add >= cap) {
					cap = (len + add) * 2;
					cycle = xrealloc(cycle, cap);
				}
				len += (size_t)snprintf(cycle + len, cap - len, "%s%s", k > start ? " -> " : "", name);
			}
			xasprintf(&path, "servers.%s.depends_on", s->name);
			error_at(d->p, n && n->type == YNODE_SEQ && j < n->n ? n->items[j] : n, path,
				 "depends_on cycle: %s", cycle);
			free(path);
			free(cycle);
		}
	}
	d->depth--;
	d->color[u] = BLACK;
}

static void check_dependency_cycles(struct parse *p)
{
	struct dfs d = {
		.p = p,
		.color = xcalloc(p->m->nservers + 1, sizeof(int)),
		.stack = xcalloc(p->m->nservers + 1, sizeof(int)),
	};

	for (size_t i = 0; i < p->m->nservers; i++)
		if (d.color[i] == WHITE)
			dfs_visit(&d, (int)i);
	free(d.color);
	free(d.stack);
}

/* ---- sandbox paths inside what every sandbox hides ------------------------ */

/* Whether path is place or beneath it (lexically). */
static bool path_within(const char *path, const char *place)
{
	size_t n = strlen(place);

	while (n > 1 && place[n - 1] == '/')
		n--;
	if (strncmp(path, place, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && place[0] == '/');
}

/* The first hidden place (manifest_hidden_paths) that path is in, or NULL. */
static const char *hidden_place(char *const *hidden, const char *path)
{
	for (char *const *h = hidden; h && *h; h++)
		if (path_within(path, *h))
			return *h;
	return NULL;
}

static void check_sandbox_list(struct parse *p, const struct ynode *srv, const char *srv_path, const char *key,
			       char *const *list, size_t n, char *const *hidden)
{
	for (size_t i = 0; i < n; i++) {
		const char *h = hidden_place(hidden, list[i]);
		const struct ynode *at;
		char *where;

		if (!h)
			continue;
		at = locate(p, srv, "sandbox", key, &where, srv_path);
		error_at(p, at, where, "\"%.200s\" is inside %.200s, which mcpd hides from every sandboxed server "
			 "(the manifest, tokens_file, secret and env files, mcpd.state_dir, the control socket)", list[i], h);
		free(where);
	}
}

/* private_tmp gives the server an empty /tmp and /var/tmp: a path in them would not be there. */
static void check_private_tmp(struct parse *p, const struct ynode *srv, const char *srv_path, const char *key,
			      char *const *list, size_t n)
{
	static const char *const tmp[] = { "/tmp", "/var/tmp" };

	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < NELEM(tmp); t++) {
			const struct ynode *at;
			char *where;

			if (!path_within(list[i], tmp[t]))
				continue;
			at = locate(p, srv, "sandbox", key, &where, srv_path);
			error_at(p, at, where, "\"%.200s\" is inside %s, which private_tmp replaces with an empty tmpfs "
				 "for this server (the path would not exist there): use a path elsewhere, or drop private_tmp",
				 list[i], tmp[t]);
			free(where);
			break;
		}
}

/* With private_tmp, what the server runs and where must lie outside /tmp and /var/tmp too. */
static void check_private_tmp_place(struct parse *p, const struct ynode *srv, const char *srv_path, const char *key,
				    const char *what, const char *value)
{
	static const char *const tmp[] = { "/tmp", "/var/tmp" };

	if (!value || value[0] != '/')
		return;
	for (size_t t = 0; t < NELEM(tmp); t++) {
		const struct ynode *at = ymap_get(srv, key);
		char *where;

		if (!path_within(value, tmp[t]))
			continue;
		where = join_path(srv_path, key);
		error_at(p, at ? at : srv, where, "%s \"%.200s\" is inside %s, which sandbox.private_tmp replaces with an "
			 "empty tmpfs for this server (it would not exist there): move it, or drop private_tmp",
			 what, value, tmp[t]);
		free(where);
		break;
	}
}

static void check_sandboxes(struct parse *p, const struct ynode *servers)
{
	char **hidden = manifest_hidden_paths(p->m);

	for (size_t i = 0; i < p->m->nservers && i < servers->n; i++) {
		const struct server_conf *s = &p->m->servers[i];
		char *path;

		if (!s->sandbox.enabled)
			continue;
		path = join_path("servers", s->name);
		check_sandbox_list(p, servers->entries[i].value, path, "writable", s->sandbox.writable,
				   s->sandbox.nwritable, hidden);
		check_sandbox_list(p, servers->entries[i].value, path, "readable", s->sandbox.readable,
				   s->sandbox.nreadable, hidden);
		if (s->sandbox.private_tmp) {
			check_private_tmp(p, servers->entries[i].value, path, "writable", s->sandbox.writable,
					  s->sandbox.nwritable);
			check_private_tmp(p, servers->entries[i].value, path, "readable", s->sandbox.readable,
					  s->sandbox.nreadable);
			check_private_tmp_place(p, servers->entries[i].value, path, "command", "its program",
						s->command ? s->command[0] : NULL);
			check_private_tmp_place(p, servers->entries[i].value, path, "cwd", "its working directory",
						s->cwd);
		}
		free(path);
	}
	strv_free(hidden);
}

char **manifest_hidden_paths(const struct manifest *m)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;

	if (m->path) {
		if (m->path[0] == '/') {
			strv_add_unique(&v, &n, m->path);
		} else {
			const char *base = strrchr(m->path, '/');
			char *abs;

			xasprintf(&abs, "%s/%s", m->dir, base ? base + 1 : m->path);
			strv_add_unique(&v, &n, abs);
			free(abs);
		}
	}
	strv_add_unique(&v, &n, m->mcpd.gateway.tokens_file);
	/* Issue 16: the gateway's JWT key files go here too. */
	strv_add_unique(&v, &n, m->mcpd.state_dir);
	strv_add_unique(&v, &n, m->mcpd.control);
	for (size_t i = 0; i < m->nservers; i++)
		manifest_server_hidden_paths(&m->servers[i], &v, &n);
	return v;
}

void manifest_server_hidden_paths(const struct server_conf *s, char ***v, size_t *n)
{
	strv_add_unique(v, n, s->env_file);
	for (size_t j = 0; j < s->secrets.n; j++)
		strv_add_unique(v, n, s->secrets.items[j].value);
}

static void sandbox_conf_copy(struct sandbox_conf *dst, const struct sandbox_conf *src)
{
	*dst = *src;
	dst->writable = strv_dup(src->writable, src->nwritable);
	dst->readable = strv_dup(src->readable, src->nreadable);
}

static bool sandbox_conf_eq(const struct sandbox_conf *a, const struct sandbox_conf *b)
{
	if (!a->enabled || !b->enabled)
		return a->enabled == b->enabled;
	return strv_eq(a->writable, a->nwritable, b->writable, b->nwritable) && (a->readable == NULL) == (b->readable == NULL) &&
	       strv_eq(a->readable, a->nreadable, b->readable, b->nreadable) && a->network == b->network &&
	       a->private_tmp == b->private_tmp && a->best_effort == b->best_effort;
}

static void parse_servers(struct parse *p, const struct ynode *n)
{
	if (ynode_is_null(n))
		return;
	if (!expect_map(p, n, "servers"))
		return;
	if (n->n > MANIFEST_MAX_SERVERS) {
		error_at(p, n, "servers", "%zu servers is more than the limit of %d", n->n, MANIFEST_MAX_SERVERS);
		return;
	}
	p->m->servers = xcalloc(n->n ? n->n : 1, sizeof(*p->m->servers));
	p->dep_nodes = xcalloc(n->n ? n->n : 1, sizeof(*p->dep_nodes));
	for (size_t i = 0; i < n->n; i++) {
		p->cur = i;
		parse_server(p, n->entries[i].key, n->entries[i].value, &p->m->servers[i]);
		p->m->nservers++;
	}
	check_dependency_targets(p);
	check_dependency_cycles(p);
	check_sandboxes(p, n);
}

/* ---- agents ------------------------------------------------------------ */

static bool parse_agent_rate_limit(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct agent_conf *a = field;

	a->has_rate_limit = parse_rate(p, n, path, &a->rate_limit, &a->rate_period_ms);
	return a->has_rate_limit;
}

/* A glob whose server part matches no server can never allow anything: a warning, with a hint. */
static void check_agent_glob_server(struct parse *p, const struct ynode *at, const char *path, const char *glob)
{
	size_t len = (size_t)(strchr(glob, '/') - glob);
	char *part = xstrndup(glob, len);
	const char **names;
	const char *hint;

	for (size_t i = 0; i < p->m->nservers; i++) {
		if (fnmatch(part, p->m->servers[i].name, 0) == 0) {
			free(part);
			return;
		}
	}
	names = manifest_server_names(p->m);
	hint = str_suggest(part, names, p->m->nservers);
	if (hint)
		problem(p, true, at->line, at->col, path, "\"%.64s\" matches no server in servers: (did you mean \"%s/...\"?)",
			glob, hint);
	else
		problem(p, true, at->line, at->col, path, "\"%.64s\" matches no server in servers: it allows nothing",
			glob);
	free(names);
	free(part);
}

static bool parse_agent_tools(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	struct agent_conf *a = field;
	bool ok = true;

	strv_free(a->tools);
	a->tools = NULL;
	a->ntools = 0;
	if (!parse_string_list(p, n, path, "a list of \"server/tool\" globs", &a->tools, &a->ntools))
		return false;
	if (a->ntools == 0) {
		error_at(p, n, path, "is empty: list at least one \"server/tool\" glob (like \"files/read_file\" or "
			 "\"crm/*\")");
		return false;
	}
	for (size_t i = 0; i < a->ntools; i++) {
		const struct ynode *at = n->type == YNODE_SEQ && i < n->n ? n->items[i] : n;
		const char *glob = a->tools[i];
		char *sub = n->type == YNODE_SEQ ? index_path(path, i) : xstrdup(path);

		if (strlen(glob) > MANIFEST_GLOB_MAX) {
			error_at(p, at, sub, "is longer than %d bytes", MANIFEST_GLOB_MAX);
			ok = false;
		} else if (!strchr(glob, '/') || glob[0] == '/' || strchr(glob, '/')[1] == '\0') {
			error_at(p, at, sub, "\"%.64s\" is not a \"server/tool\" glob (like \"files/read_file\", "
				 "\"files/*\" or \"*/search\")", glob);
			ok = false;
		} else {
			check_agent_glob_server(p, at, sub, glob);
		}
		free(sub);
	}
	return ok;
}

static const struct field agent_fields[] = {
	{ .key = "tools", .parse = parse_agent_tools },
	{ .key = "rate_limit", .parse = parse_agent_rate_limit },
};

static bool agent_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > MANIFEST_AGENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static void parse_agents(struct parse *p, const struct ynode *n)
{
	if (!n)
		return;
	p->m->has_agents = true;
	if (!expect_map(p, n, "agents"))
		return;
	if (n->n > MANIFEST_MAX_AGENTS) {
		error_at(p, n, "agents", "%zu agents is more than the limit of %d", n->n, MANIFEST_MAX_AGENTS);
		return;
	}
	p->m->agents = xcalloc(n->n ? n->n : 1, sizeof(*p->m->agents));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *key = n->entries[i].key;
		const struct ynode *value = n->entries[i].value;
		struct agent_conf *a = &p->m->agents[p->m->nagents];
		char *path = join_path("agents", key->value);

		if (!agent_name_valid(key->value)) {
			error_at(p, key, "agents", "agent name \"%.64s\" must be 1 to %d printable bytes without spaces "
				 "(a tokens_file name or a JWT's agent claim)", key->value, MANIFEST_AGENT_NAME_MAX);
		} else if (walk_map(p, value, path, agent_fields, NELEM(agent_fields), a, false) && !a->tools) {
			char *sub = join_path(path, "tools");

			error_at(p, key, sub, "missing: list the \"server/tool\" globs agent \"%s\" may use", key->value);
			free(sub);
		}
		a->name = xstrdup(key->value);
		a->line = key->line;
		p->m->nagents++;
		free(path);
	}
}

/* ---- top level --------------------------------------------------------- */

static bool parse_version(struct parse *p, const struct ynode *n, const char *path, void *field)
{
	uint64_t v;

	if (!parse_uint_range(p, n, path, 1, 1, &v)) {
		return false;
	}
	return true;
}

static void parse_defaults(struct parse *p, const struct ynode *n)
{
	struct server_conf scratch;

	if (ynode_is_null(n))
		return;
	server_conf_init_defaults(&scratch);
	p->cur = 0;
	if (expect_map(p, n, "defaults")) {
		const struct ynode **saved = p->dep_nodes;
		const struct ynode *none[1] = { NULL };

		p->dep_nodes = none;
		walk_map(p, n, "defaults", server_fields, NELEM(server_fields), &scratch, true);
		p->dep_nodes = saved;
		p->defaults = n;
	}
	server_conf_release(&scratch);
}

static void parse_root(struct parse *p, const struct ynode *root)
{
	static const char *const top[] = { "version", "mcpd", "defaults", "servers", "agents" };
	const struct ynode *v;

	if (!root) {
		problem(p, false, 1, 1, "", "the manifest is empty: it needs at least \"version: 1\" and \"servers:\"");
		return;
	}
	if (!expect_map(p, root, ""))
		return;
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *k = root->entries[i].key;
		bool known = false;

		for (size_t j = 0; j < NELEM(top); j++)
			known = known || strcmp(k->value, top[j]) == 0;
		if (!known) {
			const char *hint = str_suggest(k->value, top, NELEM(top));

			if (hint)
				error_at(p, k, k->value, "unknown key \"%.64s\" (did you mean \"%s\"?)", k->value, hint);
			else
				error_at(p, k, k->value, "unknown key \"%.64s\"", k->value);
		}
	}
	v = ymap_get(root, "version");
	if (!v)
		problem(p, false, root->line, root->col, "version", "missing: the manifest must start with \"version: 1\"");
	else
		parse_version(p, v, "version", NULL);
	if ((v = ymap_get(root, "mcpd")) && !ynode_is_null(v))
		walk_map(p, v, "mcpd", mcpd_fields, NELEM(mcpd_fields), &p->m->mcpd, false);
	parse_defaults(p, ymap_get(root, "defaults"));
	parse_servers(p, ymap_get(root, "servers"));
	parse_agents(p, ymap_get(root, "agents"));	/* after servers: globs are checked against their names */
}

static int error_cmp(const void *pa, const void *pb)
{
	const struct manifest_error *a = pa, *b = pb;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return (a->col > b->col) - (a->col < b->col);
}

static char *absolute_dir(const char *name)
{
	const char *slash = strrchr(name, '/');
	char cwd[PATH_MAX], *dir;

	if (slash == name)
		return xstrdup("/");
	if (slash && name[0] == '/')
		return xstrndup(name, (size_t)(slash - name));
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), ".");
	if (!slash)
		return xstrdup(cwd);
	xasprintf(&dir, "%s/%.*s", cwd, (int)(slash - name), name);
	return dir;
}

int manifest_parse_buffer(const char *name, const char *buf, size_t len, unsigned flags,
			  struct manifest **ret_manifest, struct manifest_errors *errs)
{
	static const struct ytree_limits limits = {
		.max_depth = MANIFEST_MAX_DEPTH,
		.max_nodes = MANIFEST_MAX_NODES,
	};
	struct manifest *m = xcalloc(1, sizeof(*m));
	struct parse p = { .name = name, .errs = errs, .flags = flags, .m = m };
	struct ynode *root = NULL;
	size_t before = errs->nerrors;

	*ret_manifest = NULL;
	m->path = xstrdup(name);
	m->dir = absolute_dir(name);
	m->mcpd.shutdown_timeout_ms = 30000;
	m->mcpd.history = 20;
	m->mcpd.gateway.max_sessions_per_token = 32;
	m->mcpd.gateway.session_idle_ms = 600000;
	m->mcpd.gateway.request_timeout_ms = 60000;

	if (len > MANIFEST_MAX_BYTES) {
		problem(&p, false, 1, 1, "", "the manifest is larger than the limit of %d bytes (1 MiB)",
			MANIFEST_MAX_BYTES);
	} else if (memchr(buf, '\0', len)) {
		problem(&p, false, 1, 1, "", "the manifest contains a NUL byte: it must be UTF-8 text");
	} else {
		ytree_parse(buf, len, &limits, on_yaml_error, &p, &root);
		if (root || errs->nerrors == before)
			parse_root(&p, root);
	}
	ynode_unref(root);
	free(p.dep_nodes);
	if (errs->n > 1)
		qsort(errs->items, errs->n, sizeof(*errs->items), error_cmp);

	if (errs->nerrors > before) {
		manifest_free(m);
		return -EINVAL;
	}
	*ret_manifest = m;
	return 0;
}

int manifest_load(const char *path, unsigned flags, struct manifest **ret_manifest, struct manifest_errors *errs)
{
	return manifest_load_content(path, flags, ret_manifest, errs, NULL, NULL);
}

int manifest_load_content(const char *path, unsigned flags, struct manifest **ret_manifest,
			  struct manifest_errors *errs, char **ret_buf, size_t *ret_len)
{
	struct parse p = { .name = path, .errs = errs };
	size_t len = 0;
	char *buf;
	int r;

	*ret_manifest = NULL;
	if (ret_buf) {
		*ret_buf = NULL;
		*ret_len = 0;
	}
	/* Any type: `mcpd -c <(...)` before the loop runs; reload reads with read_file alone. */
	r = read_file(path, MANIFEST_MAX_BYTES, READ_FILE_ANY_TYPE, &buf, &len, NULL);
	if (r == -EFBIG) {
		problem(&p, false, 1, 1, "", "the manifest is larger than the limit of %d bytes (1 MiB)",
			MANIFEST_MAX_BYTES);
		return r;
	}
	if (r < 0) {
		problem(&p, false, 0, 0, "", "cannot %s the manifest: %s", r == -EISDIR ? "read" : "open",
			strerror(-r));
		return r;
	}
	r = manifest_parse_buffer(path, buf, len, flags, ret_manifest, errs);
	if (ret_buf) {
		*ret_buf = buf;
		*ret_len = len;
	} else {
		free(buf);
	}
	return r;
}

void manifest_release_servers(struct manifest *m)
{
	for (size_t i = 0; i < m->nservers; i++)
		server_conf_release(&m->servers[i]);
	free(m->servers);
	m->servers = NULL;
	m->nservers = 0;
	m->servers_released = true;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	manifest_release_servers(m);
	for (size_t i = 0; i < m->nagents; i++) {
		free(m->agents[i].name);
		strv_free(m->agents[i].tools);
	}
	free(m->agents);
	free(m->mcpd.control);
	free(m->mcpd.http);
	free(m->mcpd.http_host);
	free(m->mcpd.gateway.tokens_file);
	jwt_conf_release(&m->mcpd.gateway.jwt);
	strv_free(m->mcpd.gateway.allowed_origins);
	free(m->mcpd.log_file);
	free(m->mcpd.state_dir);
	free(m->path);
	free(m->dir);
	free(m);
}

void manifest_errors_clear(struct manifest_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->items[i].text);
	free(errs->items);
	*errs = (struct manifest_errors){ 0 };
}

void manifest_errors_print(const struct manifest_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(out, "%s\n", errs->items[i].text);
	if (errs->truncated)
		fprintf(out, "(only the first %d problems are shown)\n", MANIFEST_MAX_ERRORS);
	if (errs->nerrors > 0)
		fprintf(out, "%zu error%s\n", errs->nerrors, errs->nerrors == 1 ? "" : "s");
}

const struct server_conf *manifest_find_server(const struct manifest *m, const char *name)
{
	int i = find_server(m, name);

	return i < 0 ? NULL : &m->servers[i];
}

const char **manifest_server_names(const struct manifest *m)
{
	const char **names = xcalloc(m->nservers + 1, sizeof(*names));

	for (size_t i = 0; i < m->nservers; i++)
		names[i] = m->servers[i].name;
	return names;
}

/* ---- comparison, names ------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool kv_eq(const struct kv_list *a, const struct kv_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->items[i].key, b->items[i].key) != 0 || strcmp(a->items[i].value, b->items[i].value) != 0)
			return false;
	return true;
}

static bool limit_eq(const struct limit_conf *a, const struct limit_conf *b)
{
	return a->set == b->set && (!a->set || a->value == b->value);
}

static bool limits_eq(const struct limits_conf *a, const struct limits_conf *b)
{
	return limit_eq(&a->nofile, &b->nofile) && limit_eq(&a->nproc, &b->nproc) &&
	       limit_eq(&a->memory, &b->memory) && limit_eq(&a->core, &b->core) &&
	       limit_eq(&a->stack, &b->stack) && limit_eq(&a->cpu_time, &b->cpu_time) &&
	       limit_eq(&a->memory_high, &b->memory_high) && limit_eq(&a->cpu, &b->cpu) &&
	       limit_eq(&a->pids, &b->pids);
}

bool server_conf_equal(const struct server_conf *a, const struct server_conf *b)
{
	return str_eq(a->name, b->name) && a->transport == b->transport &&
	       strv_eq(a->command, a->argc, b->command, b->argc) && str_eq(a->url, b->url) &&
	       kv_eq(&a->headers, &b->headers) && a->protocol == b->protocol && str_eq(a->cwd, b->cwd) && kv_eq(&a->env, &b->env) &&
	       str_eq(a->env_file, b->env_file) && kv_eq(&a->secrets, &b->secrets) && str_eq(a->user, b->user) &&
	       str_eq(a->group, b->group) && limits_eq(&a->limits, &b->limits) && a->umask == b->umask &&
	       a->log_buffer == b->log_buffer &&
	       strv_eq(a->depends_on, a->ndepends_on, b->depends_on, b->ndepends_on) &&
	       a->autostart == b->autostart && a->critical == b->critical && a->restart == b->restart &&
	       a->backoff.initial_ms == b->backoff.initial_ms && a->backoff.max_ms == b->backoff.max_ms &&
	       a->backoff.factor == b->backoff.factor && a->backoff.jitter == b->backoff.jitter &&
	       a->reset_after_ms == b->reset_after_ms && a->circuit.failures == b->circuit.failures &&
	       a->circuit.window_ms == b->circuit.window_ms && a->circuit.cooldown_ms == b->circuit.cooldown_ms &&
	       a->health.interval_ms == b->health.interval_ms && a->health.timeout_ms == b->health.timeout_ms &&
	       a->health.unhealthy_after == b->health.unhealthy_after &&
	       a->health.start_timeout_ms == b->health.start_timeout_ms && a->stop.signal == b->stop.signal &&
	       a->stop.timeout_ms == b->stop.timeout_ms && sandbox_conf_eq(&a->sandbox, &b->sandbox);
}

bool server_conf_checks_equal(const struct server_conf *a, const struct server_conf *b)
{
	return str_eq(a->health.call_tool, b->health.call_tool) &&
	       str_eq(a->health.call_arguments, b->health.call_arguments) &&
	       strv_eq(a->health.exec, a->health.exec_argc, b->health.exec, b->health.exec_argc) &&
	       a->health.exec_timeout_ms == b->health.exec_timeout_ms &&
	       /* approval: read at each call, like the deep checks at each round: no restart either. */
	       strv_eq(a->approval, a->napproval, b->approval, b->napproval) && a->approval_all == b->approval_all &&
	       a->approval_timeout_ms == b->approval_timeout_ms;
}

const char *transport_name(enum transport t)
{
	return (size_t)t < NELEM(transport_names) ? transport_names[t] : "?";
}

const char *protocol_pin_name(enum protocol_pin p)
{
	return (size_t)p < NELEM(protocol_names) ? protocol_names[p] : "?";
}

const char *restart_policy_name(enum restart_policy r)
{
	return (size_t)r < NELEM(restart_names) ? restart_names[r] : "?";
}

/* The C library's names (sigabbrev_np), and RTMIN+N for real-time signals, which it leaves unnamed. */
int signal_from_name(const char *name)
{
	char *end;
	long n;

	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && strcmp(name, abbrev) == 0)
			return sig;
	}
	if (strncmp(name, "RTMIN+", 6) == 0) {
		errno = 0;
		n = strtol(name + 6, &end, 10);
		if (!*end && !errno && isdigit((unsigned char)name[6]) && n >= 0 && n <= SIGRTMAX - SIGRTMIN)
			return SIGRTMIN + (int)n;
		return -1;
	}
	if (!isdigit((unsigned char)name[0]))
		return -1;
	errno = 0;
	n = strtol(name, &end, 10);
	if (*end || errno || n < 1 || n > SIGRTMAX)
		return -1;
	return (int)n;
}

const char *signal_to_name(int sig)
{
	static char rt[32][12];
	const char *abbrev = sig > 0 && sig < NSIG ? sigabbrev_np(sig) : NULL;

	if (abbrev)
		return abbrev;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX && sig - SIGRTMIN < 32) {
		char *buf = rt[sig - SIGRTMIN];

		snprintf(buf, sizeof(rt[0]), "RTMIN+%d", sig - SIGRTMIN);
		return buf;
	}
	return "?";
}

void manifest_error_add(struct manifest_errors *errs, const char *name, bool warning, const char *path,
			const char *fmt, ...)
{
	struct parse p = { .name = name, .errs = errs };
	va_list ap;

	va_start(ap, fmt);
	vproblem(&p, warning, 0, 0, path, fmt, ap);
	va_end(ap);
}
