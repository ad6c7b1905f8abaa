#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "json-text.h"
#include "jsonw.h"
#include "output.h"
#include "xmalloc.h"

/* The last column keeps this many characters even when the others are wide... */
#define LAST_MIN 12
/* ...which first cut their "~" columns down to this. */
#define CUT_MIN 8

struct table {
	size_t ncols;
	char **headers;
	size_t *max;			/* 0: no limit */
	bool *right;			/* aligned to the right */
	char **cells;			/* nrows * ncols */
	char **notes;			/* one per row, its notes joined by '\n'; NULL when none */
	size_t nrows;
};

/* Characters, not bytes: reasons may quote UTF-8 text, and a cut must not split a character. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Bytes taken by the first chars characters of s. */
static size_t text_prefix(const char *s, size_t chars)
{
	size_t i = 0;

	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == 0)
				break;
			chars--;
		}
	}
	return i;
}

/* A cell is one line: a newline or an escape sequence in a reason would break the table. */
static char *cell_dup(const char *s)
{
	char *c = xstrdup(s ? s : "-");

	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

struct table *table_new(const char *const *headers, size_t ncols)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	t->headers = xcalloc(ncols, sizeof(*t->headers));
	t->max = xcalloc(ncols, sizeof(*t->max));
	t->right = xcalloc(ncols, sizeof(*t->right));
	for (size_t i = 0; i < ncols; i++)
		t->headers[i] = cell_dup(headers[i]);
	return t;
}

void table_set_max(struct table *t, size_t col, size_t max)
{
	t->max[col] = max;
}

void table_set_right(struct table *t, size_t col)
{
	t->right[col] = true;
}

void table_add(struct table *t, const char *const *cells)
{
	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(*t->cells));
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = cell_dup(cells[i]);
	t->notes = xreallocarray(t->notes, t->nrows + 1, sizeof(*t->notes));
	t->notes[t->nrows] = NULL;
	t->nrows++;
}

void table_add_note(struct table *t, const char *note)
{
	char **notes, *line;

	if (t->nrows == 0 || !note || !*note)
		return;
	notes = &t->notes[t->nrows - 1];
	line = cell_dup(note);
	if (*notes) {
		char *joined;

		xasprintf(&joined, "%s\n%s", *notes, line);
		free(line);
		line = joined;
		free(*notes);
	}
	*notes = line;
}

/* n blanks (fprintf's "%*s" costs a format parse per cell: a table of 1000 servers has 8000). */
static void pad(FILE *out, size_t n)
{
	static const char blanks[] = "                                                                ";

	while (n > 0) {
		size_t k = n < sizeof(blanks) - 1 ? n : sizeof(blanks) - 1;

		fwrite(blanks, 1, k, out);
		n -= k;
	}
}

/* Print s in at most width characters, ending a cut one with mark; returns the characters printed. */
static size_t print_cut(FILE *out, const char *s, size_t width, const char *mark)
{
	size_t w = text_width(s), wm = strlen(mark);

	if (w <= width) {
		fputs(s, out);
		return w;
	}
	if (width <= wm) {
		fwrite(s, 1, text_prefix(s, width), out);
		return width;
	}
	fwrite(s, 1, text_prefix(s, width - wm), out);
	fputs(mark, out);
	return width;
}

/*
 * The last column (the reason) is wrapped, not cut: its end ("next try in
 * 4s (attempt 3)") is what an operator needs. Continuation lines start
 * with blanks, so `awk '$1 == name'` still finds one line per server.
 */
/* A last column narrower than this puts a long value on lines of its own, indented. */
#define REASON_OWN_LINE 30
#define REASON_INDENT 4
/* A row's note, on the lines below it. */
#define NOTE_INDENT 4

static void print_wrapped(FILE *out, const char *s, size_t width, size_t indent)
{
	bool first = true;

	while (*s) {
		size_t n = text_prefix(s, width);

		if (s[n] != '\0') {
			size_t b = n;

			/* At a blank, or after a comma (compact JSON has no blanks). */
			while (b > 0 && s[b] != ' ' && s[b - 1] != ',')
				b--;
			if (b > 0)
				n = b;
		}
		if (!first) {
			fputc('\n', out);
			pad(out, indent);
		}
		fwrite(s, 1, n, out);
		s += n;
		while (*s == ' ')
			s++;
		first = false;
	}
}

static void print_row(const struct table *t, char *const *row, const size_t *widths, size_t total, FILE *out)
{
	size_t last = t->ncols - 1, end = 0, indent = 0;

	/* Pad only up to the last non-empty cell: no trailing blanks. */
	for (size_t i = 0; i < t->ncols; i++)
		if (row[i][0])
			end = i;
	for (size_t i = 0; i <= end; i++) {
		size_t w;

		if (i == last && !t->right[i]) {
			if (text_width(row[i]) > widths[i] && widths[i] < REASON_OWN_LINE) {
				/* Too narrow to wrap in place: the reason gets lines of its own. */
				fputc('\n', out);
				pad(out, REASON_INDENT);
				print_wrapped(out, row[i], total - REASON_INDENT, REASON_INDENT);
			} else {
				print_wrapped(out, row[i], widths[i], indent);
			}
			break;
		}
		if (t->right[i]) {
			w = text_width(row[i]);
			pad(out, w < widths[i] ? widths[i] - w : 0);
		}
		w = print_cut(out, row[i], widths[i], "~");
		indent += widths[i] + 2;
		if (i < end)
			pad(out, t->right[i] ? 2 : widths[i] - w + 2);
	}
	fputc('\n', out);
}

void table_print(const struct table *t, FILE *out, size_t width)
{
	size_t *widths = xcalloc(t->ncols, sizeof(*widths));
	size_t used = 0, last = t->ncols - 1;

	for (size_t i = 0; i < t->ncols; i++) {
		widths[i] = text_width(t->headers[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = text_width(t->cells[r * t->ncols + i]);

			if (w > widths[i])
				widths[i] = w;
		}
		if (t->max[i] && widths[i] > t->max[i])
			widths[i] = t->max[i];
		if (i < last)
			used += widths[i] + 2;
	}
	for (size_t i = 0; i < last && used + LAST_MIN > width; i++) {
		size_t over = used + LAST_MIN - width, cut;

		if (!t->max[i] || widths[i] <= CUT_MIN)
			continue;
		cut = widths[i] - CUT_MIN < over ? widths[i] - CUT_MIN : over;
		widths[i] -= cut;
		used -= cut;
	}
	if (widths[last] > (width > used ? width - used : 0))
		widths[last] = width > used + LAST_MIN ? width - used : LAST_MIN;
	print_row(t, t->headers, widths, width, out);
	for (size_t r = 0; r < t->nrows; r++) {
		print_row(t, t->cells + r * t->ncols, widths, width, out);
		for (char *note = t->notes[r], *nl; note; note = nl ? nl + 1 : NULL) {
			nl = strchr(note, '\n');
			if (nl)
				*nl = '\0';
			pad(out, NOTE_INDENT);
			print_wrapped(out, note, width - NOTE_INDENT, NOTE_INDENT);
			fputc('\n', out);
			if (nl)
				*nl = '\n';
		}
	}
	free(widths);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	for (size_t r = 0; r < t->nrows; r++)
		free(t->notes[r]);
	free(t->notes);
	free(t->headers);
	free(t->max);
	free(t->right);
	free(t->cells);
	free(t);
}

void output_duration(uint64_t seconds, char *buf, size_t size)
{
	/* Two units are enough to read at a glance; a zero second unit is left out. */
	static const struct {
		uint64_t secs;
		char name;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) - 1; i++) {
		uint64_t big = seconds / units[i].secs, small = seconds % units[i].secs / units[i + 1].secs;

		if (big == 0)
			continue;
		if (small == 0)
			snprintf(buf, size, "%llu%c", (unsigned long long)big, units[i].name);
		else
			snprintf(buf, size, "%llu%c%llu%c", (unsigned long long)big, units[i].name,
				 (unsigned long long)small, units[i + 1].name);
		return;
	}
	snprintf(buf, size, "%llus", (unsigned long long)seconds);
}

void output_latency(double ms, char *buf, size_t size)
{
	if (ms < 10)
		snprintf(buf, size, "%.1fms", ms);
	else if (ms < 1000)
		snprintf(buf, size, "%.0fms", ms);
	else if (ms < 10000)
		snprintf(buf, size, "%.1fs", ms / 1000);
	else
		snprintf(buf, size, "%.0fs", ms / 1000);
}

/* v scaled by step until below it, with a suffix from units: "950", "1.2k", "34M". */
static void scaled(double v, double step, const char *units, char *buf, size_t size)
{
	size_t u = 0;

	while (v >= step - 0.5 && units[u + 1]) {
		v /= step;
		u++;
	}
	/* 9.96 would print "10.0": one decimal only where it stays below 10. */
	if (u > 0 && v < 9.95)
		snprintf(buf, size, "%.1f%c", v, units[u]);
	else if (units[u] == ' ')
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.0f%c", v, units[u]);
}

void output_count(double n, char *buf, size_t size)
{
	scaled(n, 1000, " kMGTP", buf, size);
}

void output_rate(double per_s, char *buf, size_t size)
{
	/* A request a minute is 0.02/s: the window's slowest rate still shows. */
	if (per_s <= 0)
		snprintf(buf, size, "0");
	else if (per_s < 0.995)
		snprintf(buf, size, "%.2f", per_s);
	else if (per_s < 9.95)
		snprintf(buf, size, "%.1f", per_s);
	else
		output_count(per_s, buf, size);
}

void output_percent(double fraction, char *buf, size_t size)
{
	double p = fraction * 100;

	if (p <= 0)
		snprintf(buf, size, "0%%");
	else if (p < 9.95)
		snprintf(buf, size, "%.1f%%", p);
	else
		snprintf(buf, size, "%.0f%%", p);
}

void output_bytes(double bytes, char *buf, size_t size)
{
	scaled(bytes, 1024, "BKMGTP", buf, size);
}

static char *json_text(const cJSON *v)
{
	/* cJSON's printers take a non-const pointer but do not modify the tree. */
	char *text = cJSON_PrintUnformatted((cJSON *)v);

	if (!text) {
		fputs("fatal: out of memory printing JSON\n", stderr);
		abort();
	}
	return text;
}

/*
 * Two spaces per level, one member per line, "key": value: the layout of
 * jq and most tools, so that --json output diffs and greps well. Scalars
 * are written as cJSON prints them (jsonw: the same escaping and numbers),
 * all into one buffer.
 */
static void print_pretty(struct jsonw *w, const cJSON *v, unsigned depth)
{
	bool object = cJSON_IsObject(v);
	const cJSON *it;

	if ((!object && !cJSON_IsArray(v)) || !v->child) {
		jsonw_value(w, v);
		return;
	}
	jsonw_char(w, object ? '{' : '[');
	cJSON_ArrayForEach(it, v) {
		jsonw_char(w, '\n');
		json_text_indent(w, depth + 1);
		if (object) {
			jsonw_string(w, it->string);
			jsonw_bytes(w, ": ", 2);
		}
		print_pretty(w, it, depth + 1);
		if (it->next)
			jsonw_char(w, ',');
	}
	jsonw_char(w, '\n');
	json_text_indent(w, depth);
	jsonw_char(w, object ? '}' : ']');
}

void output_json(const cJSON *v)
{
	struct jsonw w;

	jsonw_init(&w);
	print_pretty(&w, v, 0);
	jsonw_char(&w, '\n');
	fwrite(w.buf, 1, w.len, stdout);
	jsonw_free(&w);
}

bool output_json_text(const char *text, size_t len)
{
	struct jsonw w;

	jsonw_init(&w);
	if (!json_text_pretty(&w, text, text + len)) {
		jsonw_free(&w);
		return false;
	}
	jsonw_char(&w, '\n');
	fwrite(w.buf, 1, w.len, stdout);
	jsonw_free(&w);
	return true;
}

void output_json_line(const cJSON *v)
{
	char *text = json_text(v);

	puts(text);
	cJSON_free(text);
}

const char *json_string(const cJSON *o, const char *key, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

bool json_number(const cJSON *o, const char *key, double *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*ret = v->valuedouble;
	return true;
}
