/*
 * libFuzzer target: JWT verification (mcpd/jwt.c) on arbitrary tokens against
 * a fixed key set, and the key set parser (mcpd/jwks.c) on arbitrary JSON.
 * The first byte picks: 'K' parses the rest as a key set, anything else
 * verifies the rest as a token (the seeds are valid RS256 and ES256 tokens of
 * these keys, at NOW).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "jwt.h"

#define NOW 1800000000

static const char keys_json[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"q_uq83KRSwDtpVkIFkESZRGpqZ7q-QPasRx9iC_nVW9Ht9beeIJF4zD1kz0aV5rmgO5QF19bJ"
	"OsWKnt4xlOo81iMVzorQwp5X4OER97YFgmGfsWY15I-36CVqx3i0yM9BB3vw4sVY1aHvTosbHgHipalcmJVkf83spj5NbQGSvzFC"
	"JBNwctx_JKuPUSvYzUgLJmwabeytxridye7Ra7dVZzquWwcB_X9qV022OiL0WrfKkDPXPXZXBnDAaEzhLDYQEJ1rSFpp6wWO_vQR"
	"DjHR1BHKS77retRa_uwV6TOlUbsNMeH898Ve2tlvjqlPKt62OOz-akFuOZHMqqmZ_4yoQ\",\"e\":\"AQAB\",\"kid\":\"r1\"},{\"kty\""
	":\"EC\",\"x\":\"ds1K-O0rUT_VELG5TNIZlPLUGeWg1MwQuEpOcqX5xAc\",\"y\":\"YZRZZJtYIiY4kENx3BC9ZsV8V2jT1jvL0qfxG7c"
	"yhT4\",\"crv\":\"P-256\",\"kid\":\"e1\"}]}";

static struct jwks *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct jwt_policy policy = {
		.issuer = "https://issuer.test",
		.audience = "mcpd-test",
		.agent_claim = "sub",
		.algorithms = JWT_RS256 | JWT_RS384 | JWT_RS512 | JWT_PS256 | JWT_ES256 | JWT_ES384,
		.leeway = 60,
	};
	char agent[JWT_MAX_AGENT + 1], why[200];
	char *error = NULL;

	if (!keys && jwks_parse(keys_json, strlen(keys_json), &keys, &error) < 0)
		abort();
	if (size > 0 && data[0] == 'K') {
		struct jwks *set = NULL;

		if (jwks_parse((const char *)data + 1, size - 1, &set, &error) == 0) {
			if (set->n == 0 || set->n > JWKS_MAX_KEYS)
				abort();
			jwks_free(set);
		} else if (!error || set) {
			abort();	/* every failure says why, and gives nothing */
		}
		free(error);
		return 0;
	}
	if (size > 0) {
		data++;
		size--;
	}
	if (jwt_verify((const char *)data, size, &policy, keys, NOW, agent, sizeof(agent), why, sizeof(why)) == JWT_OK) {
		if (!agent[0] || strlen(agent) > JWT_MAX_AGENT)
			abort();
	} else if (!why[0] || agent[0]) {
		abort();	/* every refusal says why, and names no agent */
	}
	return 0;
}
