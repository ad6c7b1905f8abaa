/* relay-policy: see relay-policy.h. SCAFFOLD: nothing is refused or filtered yet. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "relay-policy.h"

bool relay_policy_refuses(struct session *sess, const cJSON *req, const cJSON *id)
{
	(void)sess;
	(void)req;
	(void)id;
	return false;
}

void relay_policy_filter(struct session *sess, const char *method, cJSON *response)
{
	(void)sess;
	(void)method;
	(void)response;
}
