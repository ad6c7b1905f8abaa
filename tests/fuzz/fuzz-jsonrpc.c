/*
 * libFuzzer target: the newline-delimited JSON-RPC framing that the control
 * socket, relay sessions and MCP stdio share. Bytes go through linebuf in
 * pieces, each line through jsonrpc_parse and jsonrpc_classify, and its id
 * through the raw-id scanner, as control.c and relay.c do; a reply built with
 * that id must be one line of valid JSON that carries the same id.
 *
 * The first byte picks the line limit and the mode; the second the piece size.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const cJSON *back, const cJSON *parsed)
{
	if (cJSON_IsNumber(back) && cJSON_IsNumber(parsed) && back->valuedouble == parsed->valuedouble)
		return true;
	/* cJSON prints a number it cannot write (1e999 read as infinity) as null. */
	if (cJSON_IsNull(back) && cJSON_IsNumber(parsed) && !isfinite(parsed->valuedouble))
		return true;
	return cJSON_Compare(back, parsed, true);
}

/* A reply carrying id is one line, and its id reads back as the same value. */
static void check_reply(const cJSON *id, const cJSON *parsed)
{
	cJSON *reply = jsonrpc_error_new(id, JSONRPC_INVALID_REQUEST, "fuzz", NULL);
	size_t len;
	char *line = jsonrpc_serialize(reply, &len);
	cJSON *back;

	if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	back = cJSON_ParseWithLength(line, len);
	if (!back)
		abort();	/* a raw id made the reply invalid JSON */
	if (parsed && !same(cJSON_GetObjectItemCaseSensitive(back, "id"), parsed))
		abort();	/* the reply answers another id */
	cJSON_Delete(back);
	free(line);
	cJSON_Delete(reply);
}

static void one_line(const char *line, size_t len, bool oversized)
{
	int code = 0;
	size_t off, n;
	cJSON *msg = oversized ? NULL : jsonrpc_parse(line, len, &code);
	const cJSON *parsed = msg ? cJSON_GetObjectItemCaseSensitive(msg, "id") : NULL;
	cJSON *id;

	if (jsonrpc_scan_id(line, len, &off, &n) == 0 && (off + n > len || n == 0))
		abort();
	if (msg)
		(void)jsonrpc_classify(msg);
	if (parsed && !cJSON_IsString(parsed) && !cJSON_IsNumber(parsed))
		parsed = NULL;	/* only requests' ids are answered as written */
	id = jsonrpc_raw_id(line, len, parsed);
	if (id)
		check_reply(id, parsed);
	cJSON_Delete(id);
	cJSON_Delete(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linebuf lb;
	size_t max, piece, pos;
	char *line;
	size_t len;
	int r;

	if (size < 2)
		return 0;
	max = 16 + (size_t)(data[0] & 0x7f) * 8;
	linebuf_init(&lb, max, (data[0] & 0x80) ? LINEBUF_SPLIT : LINEBUF_REJECT);
	piece = 1 + data[1];
	data += 2;
	size -= 2;
	for (pos = 0; pos < size; pos += piece) {
		linebuf_append(&lb, (const char *)data + pos, size - pos < piece ? size - pos : piece);
		while ((r = linebuf_next(&lb, &line, &len)) != 0) {
			if (r == -EMSGSIZE)
				one_line(line, len, true);	/* the start of a line too long: its id only */
			else
				one_line(line, len, false);
		}
	}
	while ((r = linebuf_flush(&lb, &line, &len)) != 0)
		if (r > 0)
			one_line(line, len, false);
	linebuf_free(&lb);
	return 0;
}
